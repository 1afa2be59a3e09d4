"""Under real gunicorn (its own settings), against the relayed broker: honest, bounded 503s and a retry logged once."""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.events_service.conftest import wait_until
from tests.events_service.served import Service

ACK_TIMEOUT = 2.0
CONCURRENT = 24  # more than a thread pool of 16 would hold at once


def _post(url: str, number: int, key: str | None = None) -> tuple[int, float, dict]:
    headers = {"Idempotency-Key": key} if key else {}
    started = time.monotonic()
    response = requests.post(f"{url}/api/events/user", timeout=ACK_TIMEOUT + 10, headers=headers, json={
        "user_id": number + 1, "action": "watched", "timestamp": "2024-05-01T10:00:00Z"})
    return response.status_code, time.monotonic() - started, response.json()


def test_a_stall_gives_bounded_503s_then_immediate_ones_and_a_retry_is_logged_once(broker, tmp_path):
    service = Service(broker.bootstrap, f"events-served-outage-{os.getpid()}", tmp_path / "service.log",
                      KAFKA_ACK_TIMEOUT_SECONDS=str(ACK_TIMEOUT))
    key = f"served-{os.getpid()}"
    try:
        assert _post(service.url, 1)[0] == 201
        broker.relay.stall()
        try:
            with ThreadPoolExecutor(CONCURRENT) as pool:
                stalled = list(pool.map(lambda number: _post(service.url, number, key if number == 0 else None),
                                        range(CONCURRENT)))
            assert {status for status, _, _ in stalled} == {503}
            assert max(seconds for _, seconds, _ in stalled) < ACK_TIMEOUT + 0.3, sorted(s for _, s, _ in stalled)
            assert all("may still be published" in body["error"] for _, _, body in stalled)
            known = [_post(service.url, number) for number in range(5)]
            assert [status for status, _, _ in known] == [503] * 5
            assert max(seconds for _, seconds, _ in known) < 0.1, [seconds for _, seconds, _ in known]
        finally:
            broker.relay.resume()

        def published_again() -> bool:
            status, _, body = _post(service.url, 0, key)
            published_again.answer = body
            return status == 201

        wait_until(published_again, 30, "a retry to be acknowledged", service.evidence)
        event_id = published_again.answer["event"]["id"]
        wait_until(lambda: event_id in service.consumed(), 30, "the retried event to be consumed", service.evidence)
        last = _post(service.url, 0, key)[2]  # one more copy, after every other one in the partition
        assert last["event"]["id"] == event_id
        health = requests.get(f"{service.url}/api/events/health", timeout=5).json()
        assert health["consumers"][0]["alive"] is True

        def read_past_last() -> bool:
            text = requests.get(f"{service.url}/metrics", timeout=5).text
            return f'events_consumer_lag{{partition="{last["partition"]}",topic="user-events"}} 0.0' in text

        wait_until(read_past_last, 30, "the consumer to read past the last copy", service.evidence)
    finally:
        assert service.stop() == 0
    assert Counter(service.consumed())[event_id] == 1
