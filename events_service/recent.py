"""What the consumers saw lately: a bounded buffer for ``GET /api/events/recent`` and a bounded memory of ids."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Any


class RecentEvents:
    """The last ``capacity`` consumed events, newest first when read; safe to share between threads."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._events: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        """Remember one consumed event, forgetting the oldest when full."""
        with self._lock:
            self._events.append(entry)

    def latest(self, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` events, newest first."""
        with self._lock:
            count = min(limit, len(self._events))
            return [self._events[-1 - index] for index in range(count)]


class SeenEvents:
    """Ids of the events this process logged lately, so one redelivered after a rebalance is not logged twice.

    Offsets are committed after every batch, so a redelivery only happens when a commit
    failed (broker lost, group rebalanced); the records involved are a few batches at most.
    Ids rather than offsets, because a broker that lost its data starts offsets at 0 again.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``; tell whether it had not been seen before."""
        with self._lock:
            if event_id in self._ids:
                self._ids.move_to_end(event_id)
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True
