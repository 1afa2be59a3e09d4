"""Publishing and consuming against the real broker: acks, partitions, offsets, logs, recent events, metrics."""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from events_service.events import EVENT_TYPES
from tests.events_service.conftest import wait_until

_ids = itertools.count(1)


@pytest.fixture
def consumed(caplog):
    """A function returning every 'event consumed' log record so far."""
    caplog.set_level(logging.INFO, logger="events_service.eventlog")
    return lambda: [record for record in list(caplog.records) if record.getMessage() == "event consumed"]


def _body(kind: str, entity: int) -> dict:
    if kind == "movie":
        return {"movie_id": entity, "title": f"Movie {entity}", "action": "viewed", "rating": 7.5,
                "genres": ["drama"]}
    if kind == "user":
        return {"user_id": entity, "action": "logged_in", "timestamp": "2024-05-01T10:00:00Z"}
    return {"payment_id": entity, "user_id": 1, "amount": 9.99, "status": "completed",
            "timestamp": "2024-05-01T10:00:00+03:00", "method_type": "card"}


def test_an_event_is_acknowledged_consumed_logged_and_listed(client, consumed):
    body = _body("payment", next(_ids))
    response = client.post("/api/events/payment", json=body)
    assert response.status_code == 201
    answer = response.get_json()
    event = answer["event"]
    assert answer == {"status": "success", "partition": answer["partition"], "offset": answer["offset"],
                      "event": {"id": event["id"], "type": "payment", "timestamp": event["timestamp"],
                                "payload": body}}
    assert isinstance(answer["partition"], int)
    assert isinstance(answer["offset"], int)

    wait_until(lambda: any(record.event_id == event["id"] for record in consumed()), 30, "the event to be consumed")
    [line] = [record for record in consumed() if record.event_id == event["id"]]
    assert (line.topic, line.partition, line.offset, line.key, line.event_type) == (
        "payment-events", answer["partition"], answer["offset"], str(body["payment_id"]), "payment")
    assert line.summary.startswith(f"payment_id={body['payment_id']} user_id=1 amount=9.99")

    recent = client.get("/api/events/recent?limit=1000").get_json()["events"]
    [entry] = [entry for entry in recent if entry["event"]["id"] == event["id"]]
    assert entry["event"] == event
    assert (entry["topic"], entry["partition"], entry["offset"], entry["key"]) == (
        "payment-events", answer["partition"], answer["offset"], str(body["payment_id"]))


def test_a_thousand_mixed_events_are_each_consumed_exactly_once_where_the_broker_put_them(app, consumed):
    kinds = list(EVENT_TYPES)
    bodies = [(kinds[number % 3], _body(kinds[number % 3], next(_ids))) for number in range(1000)]

    def post(item: tuple[str, dict]) -> dict:
        response = app.test_client().post(f"/api/events/{item[0]}", json=item[1])
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, bodies))
    acked = {answer["event"]["id"]: (EVENT_TYPES[answer["event"]["type"]].topic, answer["partition"],
                                      answer["offset"]) for answer in answers}
    assert len(acked) == 1000
    assert len(set(acked.values())) == 1000, "two events acknowledged at the same partition and offset"

    def ours() -> list:
        return [record for record in consumed() if record.event_id in acked]

    wait_until(lambda: len({record.event_id for record in ours()}) == 1000, 30 - (time.monotonic() - started),
               "all 1000 events to be consumed")
    lines = ours()
    assert Counter(record.event_id for record in lines).most_common(1)[0][1] == 1, "an event was logged twice"
    assert {record.event_id: (record.topic, record.partition, record.offset) for record in lines} == acked


def test_events_of_one_entity_keep_their_order(client, consumed):
    movie = next(_ids)
    answers = [client.post("/api/events/movie", json={**_body("movie", movie), "action": f"step-{step}"}).get_json()
               for step in range(10)]
    assert len({answer["partition"] for answer in answers}) == 1
    offsets = [answer["offset"] for answer in answers]
    assert offsets == sorted(offsets)
    assert len(set(offsets)) == 10
    ids = [answer["event"]["id"] for answer in answers]

    def seen() -> list:
        return [record.event_id for record in consumed() if record.event_id in ids]

    wait_until(lambda: len(seen()) == 10, 30, "the movie's events to be consumed")
    assert seen() == ids


def test_health_shows_the_broker_and_each_consumer(client, consumed):
    event_id = client.post("/api/events/user", json=_body("user", next(_ids))).get_json()["event"]["id"]
    wait_until(lambda: any(record.event_id == event_id for record in consumed()), 30, "the event to be consumed")
    wait_until(lambda: client.get("/api/events/health").get_json()["consumers"][0]["assigned_partitions"], 10,
               "the consumer to report its partitions")
    health = client.get("/api/events/health").get_json()
    assert health["status"] is True
    assert (health["broker"]["reachable"], health["broker"]["topics_ready"], health["producer"]) == (
        True, True, {"created": True})
    [worker] = health["consumers"]
    assert (worker["name"], worker["state"], worker["alive"], worker["restarts"]) == ("consumer-1", "consuming",
                                                                                     True, 0)
    assert len(worker["assigned_partitions"]) == 9
    assert worker["consumed"] >= 1
    assert client.get("/api/events/ready").get_json()["ready"] is True


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_count_produced_and_consumed_events_latency_and_lag(client, consumed):
    answers = [client.post(f"/api/events/{kind}", json=_body(kind, next(_ids))).get_json() for kind in EVENT_TYPES]
    ids = {answer["event"]["id"] for answer in answers}
    wait_until(lambda: ids <= {record.event_id for record in consumed()}, 30, "the events to be consumed")
    wait_until(lambda: "events_consumer_lag{" in client.get("/metrics").get_data(as_text=True), 5, "lag samples")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = _samples(response.get_data(as_text=True))
    for topic in ("movie-events", "user-events", "payment-events"):
        by_topic = frozenset({("topic", topic)})
        assert samples["events_produced_total", by_topic] == 1
        assert samples["events_produce_latency_seconds_count", by_topic] == 1
        assert samples["events_produce_latency_seconds_bucket", by_topic | {("le", "5.0")}] == 1
        assert samples["events_consumed_total", by_topic] >= 1
        assert samples["events_consumer_lag", by_topic | {("partition", "0")}] >= 0
    assert samples["events_broker_reachable", frozenset()] == 1
