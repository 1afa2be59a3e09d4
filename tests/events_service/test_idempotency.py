"""Against the real broker: a retried Idempotency-Key is logged once, after a restart too; 7 and 7.0 are one key."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask

from events_service.app import shutdown
from events_service.config import Config
from tests.events_service.conftest import wait_until


@pytest.fixture
def consumed(caplog) -> Callable[[str], list[logging.LogRecord]]:
    """A function returning the 'event consumed' records of one event id so far."""
    caplog.set_level(logging.INFO, logger="events_service.eventlog")
    return lambda event_id: [record for record in list(caplog.records)
                             if record.getMessage() == "event consumed" and record.event_id == event_id]


def _ready(app: Flask) -> Flask:
    wait_until(lambda: app.test_client().get("/api/events/ready").status_code == 200, 20, "service ready")
    return app


def _read_past(app: Flask, answer: dict) -> bool:
    """Tell whether the app's consumer has read the answer's partition past the answer's offset."""
    topic = f"{answer['event']['type']}-events"
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return f'events_consumer_lag{{partition="{answer["partition"]}",topic="{topic}"}} 0.0' in text


def test_a_retry_after_a_replica_restart_is_not_logged_again(make_app, config: Config, consumed):
    body = {"user_id": 31337, "action": "subscribed", "timestamp": "2024-05-01T10:00:00Z"}
    headers = {"Idempotency-Key": f"restart-{config.consumer_group}"}
    first = _ready(make_app(config))
    original = first.test_client().post("/api/events/user", json=body, headers=headers).get_json()
    event_id = original["event"]["id"]
    wait_until(lambda: consumed(event_id), 30, "the original to be consumed")
    shutdown(first)  # commits and leaves the group

    second = _ready(make_app(config))
    retry = second.test_client().post("/api/events/user", json=body, headers=headers).get_json()
    assert retry["event"]["id"] == event_id
    assert (retry["partition"], retry["offset"]) != (original["partition"], original["offset"])
    wait_until(lambda: _read_past(second, retry), 30, "the restarted replica to read the retry")
    assert len(consumed(event_id)) == 1
    recent = second.test_client().get("/api/events/recent?limit=1000").get_json()["events"]
    assert event_id not in [entry["event"]["id"] for entry in recent]


def test_a_key_without_a_retry_is_a_new_event_each_time(client):
    body = {"movie_id": 5, "title": "Ran", "action": "viewed"}
    ids = {client.post("/api/events/movie", json=body).get_json()["event"]["id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("spelling", ["7.0", "7e0", "7E+0"])
def test_seven_spelled_as_a_float_is_the_integer_seven_in_the_same_partition(client, consumed, spelling):
    def post(number: str) -> dict:
        data = f'{{"movie_id": {number}, "title": "Seven Samurai", "action": "viewed"}}'
        response = client.post("/api/events/movie", data=data, content_type="application/json")
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    plain, spelt = post("7"), post(spelling)
    assert spelt["event"]["payload"]["movie_id"] == 7
    assert spelt["partition"] == plain["partition"]
    assert spelt["offset"] > plain["offset"]
    wait_until(lambda: consumed(spelt["event"]["id"]), 30, "the event to be consumed")
    [line] = consumed(spelt["event"]["id"])
    assert (line.key, line.partition) == ("7", plain["partition"])
    recent = client.get("/api/events/recent?limit=1000").get_json()["events"]
    [entry] = [entry for entry in recent if entry["event"]["id"] == spelt["event"]["id"]]
    assert (entry["key"], entry["event"]["payload"]["movie_id"]) == ("7", 7)
    assert type(entry["event"]["payload"]["movie_id"]) is int
