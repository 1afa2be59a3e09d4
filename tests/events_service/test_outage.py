"""Broker outages: a connection cut or stalled by the relay, which the broker itself survives.

(A Tansu restarted is a new, empty cluster, which no real Kafka restart is; it is not tested.)
Every 503 comes within the acknowledgement bound plus 0.3 s, at once while the broker is
known to be unreachable, says the event may still be published, and a retry with the
same Idempotency-Key is logged once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import replace

import pytest

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
        assert time.monotonic() - started < ACK_TIMEOUT + 0.3
        assert during.status_code == 503
        assert during.is_json
        assert "not acknowledged" in during.get_json()["error"]
        assert "may still be published" in during.get_json()["error"]
        wait_until(lambda: client.get("/api/events/ready").status_code != 200, ACK_TIMEOUT + 2,
                   "readiness to drop")
        for _ in range(5):
            at_once = time.monotonic()
            assert client.post("/api/events/movie", json=_movie("known")).status_code == 503
            assert time.monotonic() - at_once < 0.1

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
    # Same movie, same partition, in order.
    assert after.get_json()["partition"] == before.get_json()["partition"]
    assert after.get_json()["offset"] > before.get_json()["offset"]
    wait_until(lambda: after.get_json()["event"]["id"] in consumed_ids(), 30, "the consumer to resume")

    ids = consumed_ids()
    assert during.get_json().get("event") is None
    assert Counter(ids).most_common(1)[0][1] == 1, "an event was logged twice"
    health = client.get("/api/events/health").get_json()
    assert health["broker"]["reachable"] is True
    assert health["consumers"][0]["alive"] is True


def test_a_retry_after_a_stall_with_the_same_idempotency_key_is_logged_once(broker, config, make_app, caplog):
    caplog.set_level(logging.INFO, logger="events_service.eventlog")
    app = make_app(replace(config, ack_timeout_seconds=ACK_TIMEOUT))
    client = app.test_client()
    wait_until(lambda: client.get("/api/events/ready").status_code == 200, 20, "service ready")
    headers = {"Idempotency-Key": f"stall-{config.consumer_group}"}

    def lines_of(event_id: str) -> list[str]:
        return [record for record in list(caplog.records)
                if record.getMessage() == "event consumed" and record.event_id == event_id]

    broker.relay.stall()
    try:
        started = time.monotonic()
        first = client.post("/api/events/payment", json=_payment(), headers=headers)
        assert time.monotonic() - started < ACK_TIMEOUT + 0.3
        assert first.status_code == 503
        assert "may still be published" in first.get_json()["error"]
        at_once = time.monotonic()
        assert client.post("/api/events/payment", json=_payment(), headers=headers).status_code == 503
        assert time.monotonic() - at_once < 0.1
    finally:
        # The held produce request reaches the broker now: the event is published after all.
        broker.relay.resume()

    wait_until(lambda: client.get("/api/events/ready").status_code == 200, 20, "readiness to come back")
    retry = client.post("/api/events/payment", json=_payment(), headers=headers)
    assert retry.status_code == 201, retry.get_json()
    event_id = retry.get_json()["event"]["id"]
    wait_until(lambda: lines_of(event_id), 30, "the event to be consumed")
    # A second retry is one more copy in the topic, after the first: once it is consumed, all were.
    again = client.post("/api/events/payment", json=_payment(), headers=headers)
    assert (again.status_code, again.get_json()["event"]["id"]) == (201, event_id)
    wait_until(lambda: _consumed_up_to(client, again.get_json()), 30, "the second retry to be read")
    assert len(lines_of(event_id)) == 1
    recent = client.get("/api/events/recent?limit=1000").get_json()["events"]
    assert [entry["event"]["id"] for entry in recent].count(event_id) == 1


def _payment() -> dict:
    return {"payment_id": 99, "user_id": 7, "amount": 5.5, "status": "completed", "timestamp": "2024-05-01T10:00:00Z"}


def _consumed_up_to(client, answer: dict) -> bool:
    """Tell whether this app's consumer has read the answer's partition past the answer's offset (lag 0 there)."""
    text = client.get("/metrics").get_data(as_text=True)
    sample = (f'events_consumer_lag{{partition="{answer["partition"]}",topic="payment-events"}} 0.0')
    return sample in text
