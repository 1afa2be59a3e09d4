"""What the service does with each consumed record: one JSON log line, the recent-events buffer, the counters."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from kafka.consumer.fetcher import ConsumerRecord

from events_service.events import summarize
from events_service.metrics import EventMetrics
from events_service.recent import RecentEvents, SeenEvents

log = logging.getLogger(__name__)


class EventLog:
    """Logs consumed events, once each, for every consumer thread of the process."""

    def __init__(self, metrics: EventMetrics, recent: RecentEvents, seen: SeenEvents) -> None:
        self._metrics = metrics
        self._recent = recent
        self._seen = seen

    def log(self, record: ConsumerRecord) -> int:
        """Log ``record`` as one JSON line and remember it; return 1 if it was logged, 0 if skipped.

        A record that is not an event is logged as a warning and skipped, so it cannot stop
        the partition; one whose event id was logged before is skipped silently.
        """
        key = None if record.key is None else record.key.decode("utf-8", "replace")
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset, "key": key}
        try:
            event = json.loads(record.value)
            event_id, event_type, payload = event["id"], event["type"], event["payload"]
        except (ValueError, TypeError, KeyError):
            self._metrics.undecodable.labels(record.topic).inc()
            log.warning("record is not an event; skipped", extra={**where, "value": summarize(record.value)})
            return 0
        if not self._seen.first_time(str(event_id)):
            self._metrics.redelivered.labels(record.topic).inc()
            log.debug("event delivered again; already logged", extra={**where, "event_id": event_id})
            return 0
        log.info("event consumed", extra={**where, "event_id": event_id, "event_type": event_type,
                                          "summary": summarize(payload)})
        self._recent.add({**where, "consumed_at": datetime.now(UTC).isoformat(), "event": event})
        self._metrics.consumed.labels(record.topic).inc()
        return 1
