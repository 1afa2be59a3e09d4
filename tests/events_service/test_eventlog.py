"""The in-process pieces as units: recent events, the seen ids, and pausing a partition until it is read back."""

from __future__ import annotations

import threading
from unittest import mock

from kafka import TopicPartition

from events_service.dedupe import PauseUntilReadBack
from events_service.eventlog import RecentEvents, SeenEvents


def test_recent_events_keep_the_last_capacity_newest_first():
    recent = RecentEvents(3)
    recent.add({"n": number} for number in range(1, 6))
    assert recent.latest(10) == [{"n": 5}, {"n": 4}, {"n": 3}]
    assert recent.latest(1) == [{"n": 5}]


def test_recent_events_take_concurrent_writers():
    recent = RecentEvents(100_000)
    writers = [threading.Thread(target=lambda: [recent.add([{"n": n}]) for n in range(2000)]) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert len(recent.latest(100_000)) == 8000


def test_seen_events_forget_the_oldest_beyond_capacity():
    seen = SeenEvents(2)
    assert [seen.first_time(event_id) for event_id in ("a", "b", "a", "c")] == [True, True, False, True]
    assert seen.first_time("b") is True  # "b" was the least recently seen, so it went first
    assert seen.first_time("c") is False


def test_assigned_partitions_are_paused_until_read_back_and_revoked_ones_forgotten():
    consumer = mock.Mock()
    listener = PauseUntilReadBack(consumer)
    first, second = TopicPartition("movie-events", 0), TopicPartition("user-events", 1)
    listener.on_partitions_assigned([first, second])
    consumer.pause.assert_called_once_with(first, second)
    listener.on_partitions_revoked([second])
    assert listener.to_read_back == {first}
