"""Several gunicorn workers in one replica: the group splits the partitions, yet every worker answers for all."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.events_service.conftest import wait_until
from tests.events_service.served import Service

EVENTS = 300
PARTITIONS = 9  # three topics of three partitions
# The session's broker holds other tests' events too, which a new group reads from the start.
CAPACITY = 100_000


def _post(url: str, number: int) -> dict:
    # A new connection each time, so both workers accept some.
    kind, body = [
        ("movie", {"movie_id": number, "title": f"Movie {number}", "action": "viewed"}),
        ("user", {"user_id": number, "action": "logged_in", "timestamp": "2024-05-01T10:00:00Z"}),
        ("payment", {"payment_id": number, "user_id": 7, "amount": 9.99, "status": "completed",
                     "timestamp": "2024-05-01T10:00:00Z"}),
    ][number % 3]
    response = requests.post(f"{url}/api/events/{kind}", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def _health(url: str) -> dict:
    return requests.get(f"{url}/api/events/health", timeout=5).json()


def _owners(health: dict) -> dict[str, int]:
    """Map each assigned partition to the worker that owns it; fail when two claim one."""
    owners: dict[str, int] = {}
    for consumer in health["consumers"]:
        for partition in consumer["assigned_partitions"]:
            assert partition not in owners, health
            owners[partition] = consumer["worker"]
    return owners


def test_two_workers_split_the_partitions_and_share_recent_events_health_and_metrics(broker, tmp_path):
    service = Service(broker.bootstrap, f"events-workers-{os.getpid()}", tmp_path / "service.log",
                      WEB_CONCURRENCY="2", RECENT_EVENTS_CAPACITY=str(CAPACITY))
    try:
        wait_until(lambda: len(_owners(_health(service.url))) == PARTITIONS
                   and len({consumer["worker"] for consumer in _health(service.url)["consumers"]}) == 2,
                   30, "two workers to share the nine partitions")
        with ThreadPoolExecutor(8) as pool:
            posted = list(pool.map(lambda number: _post(service.url, number), range(1, EVENTS + 1)))
        ids = {answer["event"]["id"] for answer in posted}
        wait_until(lambda: ids <= set(service.consumed()), 30, "every event to be consumed")
        # Another worker's consumers are as it last reported them. Each worker reports once a second,
        # so 1.6 s from now each has reported at least once after its counts were final.
        time.sleep(1.6)

        # Whichever worker answers, it shows the events every worker consumed.
        owners = _owners(_health(service.url))
        logged = len(service.consumed())
        for _ in range(6):
            recent = requests.get(f"{service.url}/api/events/recent?limit={CAPACITY}", timeout=5).json()["events"]
            assert ids <= {entry["event"]["id"] for entry in recent}
            where = {f"{entry['topic']}/{entry['partition']}" for entry in recent}
            assert len({owners[partition] for partition in where}) == 2

            health = _health(service.url)
            assert health["status"] is True
            assert {consumer["state"] for consumer in health["consumers"]} == {"consuming"}
            assert sum(consumer["consumed"] for consumer in health["consumers"]) == logged, json.dumps(health)

            samples = _samples(requests.get(f"{service.url}/metrics", timeout=5).text)
            assert samples["events_produced_total"] == EVENTS
            assert samples["events_consumed_total"] == logged
            assert samples["events_broker_reachable"] == 1
    finally:
        assert service.stop() == 0
    assert [event_id for event_id, count in Counter(service.consumed()).items() if count != 1] == []


def _samples(text: str) -> Counter:
    """Sum each metric's samples over its labels."""
    sums: Counter = Counter()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_and_labels, value = line.rsplit(" ", 1)
            sums[name_and_labels.split("{", 1)[0]] += float(value)
    return sums
