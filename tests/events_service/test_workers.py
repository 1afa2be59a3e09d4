"""Two gunicorn workers in one replica: both publish, one consumes, and whichever answers speaks for the replica."""

from __future__ import annotations

import os
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.events_service.conftest import wait_until
from tests.events_service.served import Service

EVENTS = 150
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


def _consumers(url: str) -> list[dict]:
    return requests.get(f"{url}/api/events/health", timeout=5).json()["consumers"]


def _consuming_in(service: Service, besides: int = 0) -> int:
    """Wait for one worker (other than ``besides``) whose one consumer owns every partition; return its pid."""
    owners: list[int] = []

    def found() -> bool:
        consumers = _consumers(service.url)
        if len(consumers) == 1 and consumers[0]["state"] == "consuming" and consumers[0]["worker"] != besides \
                and len(consumers[0]["assigned_partitions"]) == PARTITIONS:
            owners.append(consumers[0]["worker"])
        return bool(owners)

    wait_until(found, 30, "one worker to consume every partition", service.evidence)
    return owners[0]


def _post_many(url: str, numbers: range) -> set[str]:
    with ThreadPoolExecutor(8) as pool:
        return {answer["event"]["id"] for answer in pool.map(lambda number: _post(url, number), numbers)}


def test_one_worker_consumes_for_the_replica_and_another_takes_over_when_it_dies(broker, tmp_path):
    service = Service(broker.bootstrap, f"events-workers-{os.getpid()}", tmp_path / "service.log",
                      WEB_CONCURRENCY="2", RECENT_EVENTS_CAPACITY=str(CAPACITY))
    try:
        owner = _consuming_in(service)
        before = _post_many(service.url, range(1, EVENTS + 1))
        wait_until(lambda: before <= set(service.consumed()), 30, "the first events to be consumed", service.evidence)

        # The owner dies without a word; the other worker takes the lease and the partitions over.
        os.kill(owner, signal.SIGKILL)
        _consuming_in(service, besides=owner)
        after = _post_many(service.url, range(EVENTS + 1, 2 * EVENTS + 1))
        wait_until(lambda: after <= set(service.consumed()), 30, "the later events to be consumed", service.evidence)

        # Whoever answers shows what the dead worker consumed too: the view is the replica's.
        for _ in range(6):
            recent = requests.get(f"{service.url}/api/events/recent?limit={CAPACITY}", timeout=5).json()["events"]
            assert before | after <= {entry["event"]["id"] for entry in recent}
            (consumer,) = _consumers(service.url)  # the dead worker's report is gone
            assert consumer["worker"] != owner
            samples = _samples(requests.get(f"{service.url}/metrics", timeout=5).text)
            assert samples["events_produced_total"] == 2 * EVENTS
            assert samples["events_broker_reachable"] == 1
    finally:
        assert service.stop() == 0
    counts = Counter(service.consumed())
    # A worker killed between logging and committing may leave a batch to be logged again; after it, none is.
    assert [event_id for event_id in after if counts[event_id] != 1] == []


def _samples(text: str) -> Counter:
    """Sum each metric's samples over its labels."""
    sums: Counter = Counter()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_and_labels, value = line.rsplit(" ", 1)
            sums[name_and_labels.split("{", 1)[0]] += float(value)
    return sums
