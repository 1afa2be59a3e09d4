"""What the service does with consumed records: one JSON log line per event id, the recent events, the counters."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from events_service.events import summarize
from events_service.metrics import EventMetrics

log = logging.getLogger(__name__)
_EXTENSION = "events.log"
# Ids kept in the dedupe window in memory: far more than KAFKA_DEDUPE_WINDOW for a few partitions.
SEEN_IDS = 100_000


class RecentEvents:
    """The last ``capacity`` events this process's consumer threads logged, in memory, under a lock."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, entries: Iterable[dict[str, Any]]) -> None:
        """Remember ``entries``, oldest first; the oldest beyond the capacity are forgotten."""
        with self._lock:
            self._entries.extend(entries)

    def latest(self, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` entries, newest first."""
        with self._lock:
            count = min(limit, len(self._entries))
            return [self._entries[-index] for index in range(1, count + 1)]


class SeenEvents:
    """Ids of the events this process logged lately (the dedupe window), so that none is logged twice.

    An id comes back when a batch is redelivered (a commit failed, the group rebalanced) or
    when a client retried a publish with the same ``Idempotency-Key`` after a 503 whose
    record reached the broker all the same. A consumer thread that takes a partition over
    reads the window's ids back from the records before its committed offset (consumer.py),
    so a restarted replica does not log them again either. Ids rather than offsets: two
    copies of a retried event sit at two offsets.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``; tell whether it had not been seen before."""
        with self._lock:
            if event_id in self._ids:
                self._ids.move_to_end(event_id)
                return False
            self._ids[event_id] = None
            if len(self._ids) > self.capacity:
                self._ids.popitem(last=False)
            return True


class EventLog:
    """Logs consumed events, once per event id, for every consumer thread of the process."""

    def __init__(self, metrics: EventMetrics, recent: RecentEvents, seen: SeenEvents) -> None:
        self._metrics = metrics
        self.recent = recent
        self._seen = seen

    def log(self, records: Iterable[Any]) -> int:
        """Log each of ``records`` (kafka-python ``ConsumerRecord``) as one JSON line; return how many were logged.

        A record that is not an event is logged as a warning and skipped, so it cannot stop
        the partition; one whose event id was logged before is skipped with a debug line.
        """
        entries = [entry for entry in map(self._log_one, records) if entry is not None]
        self.recent.add(entries)
        return len(entries)

    def remember(self, records: Iterable[Any]) -> None:
        """Mark the event ids of ``records``, already logged by an earlier owner of their partition, as seen."""
        for record in records:
            event_id = _event_id(record.value)
            if event_id is not None:
                self._seen.first_time(event_id)

    def _log_one(self, record: Any) -> dict[str, Any] | None:
        key = None if record.key is None else record.key.decode("utf-8", "replace")
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset, "key": key}
        try:
            event = json.loads(record.value)
            event_id, event_type, payload = str(event["id"]), event["type"], event["payload"]
        except (ValueError, TypeError, KeyError):
            self._metrics.undecodable.labels(record.topic).inc()
            log.warning("record is not an event; skipped", extra={**where, "value": summarize(record.value)})
            return None
        if not self._seen.first_time(event_id):
            self._metrics.redelivered.labels(record.topic).inc()
            log.debug("event delivered again; already logged", extra={**where, "event_id": event_id})
            return None
        log.info("event consumed", extra={**where, "event_id": event_id, "event_type": event_type,
                                          "summary": summarize(payload)})
        self._metrics.consumed.labels(record.topic).inc()
        return {**where, "consumed_at": datetime.now(UTC).isoformat(), "event": event}


def _event_id(value: bytes | None) -> str | None:
    try:
        return str(json.loads(value)["id"])
    except (ValueError, TypeError, KeyError):
        return None


def init_app(app: Flask, metrics: EventMetrics) -> EventLog:
    """Attach the process's event log, with its recent events and its dedupe window, to ``app``."""
    config = app.config["SETTINGS"]
    events = EventLog(metrics, RecentEvents(config.recent_events), SeenEvents(max(SEEN_IDS, config.dedupe_window)))
    app.extensions[_EXTENSION] = events
    return events


def recent_of(app: Flask) -> RecentEvents:
    """Return the recent events of the log attached by ``init_app``."""
    return app.extensions[_EXTENSION].recent
