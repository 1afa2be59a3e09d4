"""The consumer lease: one holder per directory, taken over when the holder lets go, never while stopping."""

from __future__ import annotations

import threading

from events_service.lease import ConsumerLease
from tests.events_service.conftest import wait_until


class _Consumer:
    def __init__(self) -> None:
        self.started = threading.Event()

    def start(self) -> None:
        self.started.set()


def test_one_lease_holder_starts_its_consumers_and_another_takes_over_when_it_lets_go(tmp_path):
    first, second = _Consumer(), _Consumer()
    holder = ConsumerLease(tmp_path, [first], interval=0.05)
    waiting = ConsumerLease(tmp_path, [second], interval=0.05)
    holder.start()
    wait_until(lambda: holder.held, 5, "the first lease to be taken")
    waiting.start()
    try:
        assert first.started.wait(5)
        assert not second.started.wait(0.3)
        assert not waiting.held

        holder.stop()
        holder.release()
        assert second.started.wait(5)
        assert waiting.held
    finally:
        waiting.stop()
        waiting.release()


def test_a_stopping_worker_does_not_take_the_lease(tmp_path):
    consumer = _Consumer()
    lease = ConsumerLease(tmp_path, [consumer], interval=0.05)
    lease.may_take = lambda: False
    lease.start()
    try:
        assert not consumer.started.wait(0.3)
        assert not lease.held
    finally:
        lease.stop()


def test_no_consumers_no_lease(tmp_path):
    lease = ConsumerLease(tmp_path, [], interval=0.05)
    lease.start()
    lease.stop()
    assert not lease.held
