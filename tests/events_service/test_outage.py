"""Broker outages: a cut connection (the relay) and a broker restarted without its data; both sides recover."""

from __future__ import annotations

import logging
import subprocess
import time
from collections import Counter
from dataclasses import replace

import pytest

from devstack import kafka
from devstack.net import free_port, wait_for_port
from events_service.config import Config
from tests.events_service.conftest import wait_until

ACK_TIMEOUT = 2.0


def _movie(action: str) -> dict:
    return {"movie_id": 424242, "title": "Stalker", "action": action}


@pytest.mark.parametrize("outage", [0.0, 8.0], ids=["brief", "longer-than-the-session-timeout"])
def test_an_outage_is_a_prompt_503_and_both_producer_and_consumers_recover(broker, config, make_app, caplog, outage):
    caplog.set_level(logging.INFO, logger="events_service.eventlog")
    app = make_app(replace(config, ack_timeout_seconds=ACK_TIMEOUT))
    client = app.test_client()
    wait_until(lambda: client.get("/api/events/ready").status_code == 200, 20, "service ready")

    def consumed_ids() -> list[str]:
        return [record.event_id for record in list(caplog.records) if record.getMessage() == "event consumed"]

    before = client.post("/api/events/movie", json=_movie("before"))
    assert before.status_code == 201
    wait_until(lambda: before.get_json()["event"]["id"] in consumed_ids(), 30, "the first event to be consumed")

    broker.relay.stop()
    try:
        started = time.monotonic()
        during = client.post("/api/events/movie", json=_movie("during"))
        assert time.monotonic() - started < ACK_TIMEOUT + 1
        assert during.status_code == 503
        assert during.is_json
        assert "not published" in during.get_json()["error"]

        health = client.get("/api/events/health")
        assert health.status_code == 200
        assert health.get_json()["status"] is True
        assert health.get_json()["broker"]["reachable"] is False
        assert health.get_json()["consumers"][0]["state"] == "disconnected"
        ready = client.get("/api/events/ready")
        assert (ready.status_code, ready.get_json()["error"]) == (503, "Kafka broker unreachable")
        # A longer cut lets the group coordinator expire the consumer, which must then rejoin.
        time.sleep(max(0.0, outage - (time.monotonic() - started)))
    finally:
        broker.relay.start()

    wait_until(lambda: client.get("/api/events/ready").status_code == 200, 20, "readiness to come back")
    after = client.post("/api/events/movie", json=_movie("after"))
    assert after.status_code == 201
    # Same movie, same partition: once "after" is consumed, "during" would have been too, had it been written.
    assert after.get_json()["partition"] == before.get_json()["partition"]
    assert after.get_json()["offset"] == before.get_json()["offset"] + 1
    wait_until(lambda: after.get_json()["event"]["id"] in consumed_ids(), 30, "the consumer to resume")

    ids = consumed_ids()
    assert during.get_json().get("event") is None
    assert Counter(ids).most_common(1)[0][1] == 1, "an event was logged twice"
    health = client.get("/api/events/health").get_json()
    assert health["broker"]["reachable"] is True
    assert health["consumers"][0]["alive"] is True


def test_a_broker_restarted_without_its_data_is_used_again(make_app, caplog):
    # Tansu keeps data in memory: restarted, it is a new cluster (new topic ids, no groups, no producer ids).
    caplog.set_level(logging.INFO, logger="events_service.eventlog")
    port = free_port()
    broker = _start_broker(port)
    try:
        app = make_app(Config(kafka_brokers=(f"127.0.0.1:{port}",), broker_check_seconds=0.2,
                              ack_timeout_seconds=ACK_TIMEOUT))
        client = app.test_client()
        wait_until(lambda: client.get("/api/events/ready").status_code == 200, 20, "service ready")

        def consumed_ids() -> list[str]:
            return [record.event_id for record in list(caplog.records) if record.getMessage() == "event consumed"]

        before = client.post("/api/events/movie", json=_movie("before")).get_json()["event"]["id"]
        wait_until(lambda: before in consumed_ids(), 30, "the first event to be consumed")

        broker.kill()
        broker.wait()
        wait_until(lambda: client.get("/api/events/ready").status_code == 503, 5, "readiness to drop")
        broker = _start_broker(port)
        wait_until(lambda: client.get("/api/events/ready").status_code == 200, 20, "readiness to come back")

        after = [client.post("/api/events/movie", json={**_movie(f"after-{number}"), "movie_id": number})
                 for number in range(1, 7)]
        assert [response.status_code for response in after] == [201] * 6
        ids = {response.get_json()["event"]["id"] for response in after}
        wait_until(lambda: ids <= set(consumed_ids()), 30, "the events after the restart to be consumed")
        assert Counter(consumed_ids()).most_common(1)[0][1] == 1, "an event was logged twice"
    finally:
        broker.kill()
        broker.wait()


def _start_broker(port: int) -> subprocess.Popen:
    """Start Tansu on ``port``, starting it again while the port is not free yet after the previous one died."""
    deadline = time.monotonic() + 20
    broker = subprocess.Popen(kafka.broker_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            wait_for_port(port, timeout=0.2)
        except TimeoutError:
            pass
        else:
            return broker
        if time.monotonic() > deadline:
            broker.kill()
            broker.wait()
            raise AssertionError(f"Tansu does not listen on {port}")
        if broker.poll() is not None:
            broker = subprocess.Popen(kafka.broker_command(port), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
