"""The dedupe window: reading back the ids an earlier owner of a partition logged, so that none is logged twice.

When a consumer thread is assigned a partition (at start, after a restart, after a
rebalance), the ``KAFKA_DEDUPE_WINDOW`` records before the group's committed offset were
logged already, by this replica or another. Their event ids go into the process's
``SeenEvents`` before the thread logs anything of that partition, so a copy of one of
them further on (a retried publish, a redelivered batch) is skipped. Read by a consumer
outside the group (manual assignment), so the group never notices.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

import kafka.errors as kafka_errors
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from events_service.config import Config

log = logging.getLogger(__name__)
_POLL_MS = 200


class PauseUntilReadBack(ConsumerRebalanceListener):
    """Pauses newly assigned partitions until their window is read back (in the consumer's IO loop: no blocking)."""

    def __init__(self, consumer: KafkaConsumer | None = None) -> None:
        self.consumer = consumer
        self.to_read_back: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Forget partitions given up before they were read back."""
        self.to_read_back.difference_update(revoked)

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Pause the assigned partitions; the consumer thread reads their window back, then resumes them."""
        if assigned and self.consumer is not None:
            self.consumer.pause(*assigned)
            self.to_read_back.update(assigned)


class WindowReader:
    """Reads the records just before given offsets, with a consumer of its own made on first use."""

    def __init__(self, config: Config, name: str) -> None:
        self._config = config
        self._name = name
        self._reader: KafkaConsumer | None = None

    def read_back(self, committed: Mapping[TopicPartition, int], remember: Callable[[Iterable], None]) -> int:
        """Pass the records in ``[offset - window, offset)`` of each partition to ``remember``; return how many.

        Gives up after the acknowledgement bound (logged): the window then reaches less far.

        :raises kafka.errors.KafkaError: when the reader cannot be made or the broker fails it.
        """
        window = self._config.dedupe_window
        wanted = {partition: offset for partition, offset in committed.items() if offset > 0 and window > 0}
        if not wanted:
            return 0
        reader = self._reader_now()
        reader.assign(list(wanted))
        starts = reader.beginning_offsets(list(wanted), timeout_ms=self._config.ack_timeout_ms)
        for partition, offset in wanted.items():
            reader.seek(partition, max(starts.get(partition) or 0, offset - window))
        deadline = time.monotonic() + self._config.ack_timeout_seconds
        read = 0
        while time.monotonic() < deadline:
            pending = [partition for partition, offset in wanted.items() if reader.position(partition) < offset]
            if not pending:
                return read
            for partition, records in reader.poll(timeout_ms=_POLL_MS).items():
                before = [record for record in records if record.offset < wanted[partition]]
                remember(before)
                read += len(before)
        log.warning("dedupe window read only in part", extra={"consumer": self._name, "records": read})
        return read

    def close(self) -> None:
        """Close the reader's consumer, if one was made."""
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except kafka_errors.KafkaError as error:
                log.warning("dedupe reader did not close cleanly", extra={"consumer": self._name, "detail": str(error)})

    def _reader_now(self) -> KafkaConsumer:
        if self._reader is None:
            config = self._config
            self._reader = KafkaConsumer(
                bootstrap_servers=list(config.kafka_brokers), client_id=f"events-service-{self._name}-window",
                group_id=None, enable_auto_commit=False, allow_auto_create_topics=False,
                request_timeout_ms=config.ack_timeout_ms + 1000, bootstrap_timeout_ms=config.ack_timeout_ms,
                reconnect_backoff_max_ms=config.reconnect_backoff_max_ms,
            )
        return self._reader
