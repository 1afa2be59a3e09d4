"""SIGTERM under real gunicorn: the worker stops its consumers cleanly, so no event is lost or logged twice."""

from __future__ import annotations

import os
import threading
from collections import Counter

import requests

from tests.events_service.conftest import wait_until
from tests.events_service.served import Service


def test_sigterm_loses_nothing_and_logs_nothing_twice(broker, tmp_path):
    group = f"events-sigterm-{os.getpid()}"
    first = Service(broker.bootstrap, group, tmp_path / "first.log")
    acknowledged: list[str] = []
    stop_posting = threading.Event()

    def post() -> None:
        with requests.Session() as session:
            for number in range(1, 100_000):
                if stop_posting.is_set():
                    return
                try:
                    response = session.post(f"{first.url}/api/events/user", timeout=10, json={
                        "user_id": number, "action": "watched", "timestamp": "2024-05-01T10:00:00Z"})
                except requests.ConnectionError:
                    return
                if response.status_code == 201:
                    acknowledged.append(response.json()["event"]["id"])

    posters = [threading.Thread(target=post) for _ in range(4)]
    try:
        for poster in posters:
            poster.start()
        wait_until(lambda: len(first.consumed()) >= 200, 60, "the first instance to consume 200 events",
                   first.evidence)
    finally:
        # Stopped while it publishes and consumes: the worker drains requests, commits, leaves the group.
        exit_code = first.stop()
        stop_posting.set()
        for poster in posters:
            poster.join(15)
    assert exit_code == 0, first.log()[-2000:]
    log = first.log()
    assert '"message": "consumer stopped"' in log
    assert '"message": "events service stopped"' in log

    second = Service(broker.bootstrap, group, tmp_path / "second.log")
    try:
        wait_until(lambda: set(acknowledged) <= set(first.consumed()) | set(second.consumed()), 60,
                   "every acknowledged event to be consumed by one instance or the other", second.evidence)
    finally:
        assert second.stop() == 0
    counts = Counter(first.consumed() + second.consumed())
    assert len(acknowledged) >= 200
    assert [event_id for event_id in acknowledged if counts[event_id] != 1] == []
