"""What the service does with consumed records: one JSON log line each, the shared recent events, the counters."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from events_service.events import summarize
from events_service.metrics import EventMetrics
from events_service.shared import SharedState

log = logging.getLogger(__name__)


class EventLog:
    """Logs consumed events, once each, for every consumer thread of the process."""

    def __init__(self, metrics: EventMetrics, recent: SharedState, seen: SeenEvents) -> None:
        self._metrics = metrics
        self._recent = recent
        self._seen = seen

    def log(self, records: Iterable[ConsumerRecord]) -> int:
        """Log each of ``records`` as one JSON line, then remember them together; return how many were logged.

        A record that is not an event is logged as a warning and skipped, so it cannot stop
        the partition; one whose event id was logged before is skipped silently.
        """
        entries = [entry for entry in map(self._log_one, records) if entry is not None]
        self._recent.add(entries)
        return len(entries)

    def _log_one(self, record: ConsumerRecord) -> dict[str, Any] | None:
        key = None if record.key is None else record.key.decode("utf-8", "replace")
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset, "key": key}
        try:
            event = json.loads(record.value)
            event_id, event_type, payload = event["id"], event["type"], event["payload"]
        except (ValueError, TypeError, KeyError):
            self._metrics.undecodable.labels(record.topic).inc()
            log.warning("record is not an event; skipped", extra={**where, "value": summarize(record.value)})
            return None
        if not self._seen.first_time(str(event_id)):
            self._metrics.redelivered.labels(record.topic).inc()
            log.debug("event delivered again; already logged", extra={**where, "event_id": event_id})
            return None
        log.info("event consumed", extra={**where, "event_id": event_id, "event_type": event_type,
                                          "summary": summarize(payload)})
        self._metrics.consumed.labels(record.topic).inc()
        return {**where, "consumed_at": datetime.now(UTC).isoformat(), "event": event}


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
