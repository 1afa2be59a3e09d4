"""Consumer threads: each owns one ``KafkaConsumer`` (they are not thread-safe), logs every event, then commits.

A thread polls with a bounded timeout, hands each record to the event log (one JSON line
per event id, ``/api/events/recent``, the counters; see eventlog.py), and commits the
offsets after logging. A partition it is assigned is paused until the dedupe window
before its committed offset has been read back (dedupe.py). Any failure is logged and the
thread builds a new consumer; only ``request_stop()`` ends it. On stop the thread
finishes its batch, commits and leaves the group, so a successor starts right after the
last logged event: nothing lost, nothing logged twice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import kafka.errors as kafka_errors
from flask import Flask
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.structs import MemberState

from events_service.broker import BrokerWatch
from events_service.config import Config
from events_service.dedupe import PauseUntilReadBack, WindowReader
from events_service.eventlog import EventLog
from events_service.events import TOPICS

log = logging.getLogger(__name__)
_CONSUMERS = "events.consumers"
_POLL_MS = 500
_CLIENT_TIMEOUT_MS = 5000
_FETCH_MIN_BYTES = 64 * 1024
_FETCH_MAX_WAIT_MS = 100
_RETRY_SECONDS = 1.0
_OBSERVE_SECONDS = 0.5
_MEMBER_STATES = {MemberState.STABLE: "consuming", MemberState.REBALANCING: "rebalancing",
                  MemberState.UNJOINED: "joining"}


class ConsumerThread:
    """One consumer thread in the service's consumer group."""

    def __init__(self, name: str, config: Config, broker: BrokerWatch, events: EventLog) -> None:
        self.name = name
        self._config = config
        self._broker = broker
        self._events = events
        self._window = WindowReader(config, name)
        self._stop = threading.Event()
        self._pending: dict[TopicPartition, OffsetAndMetadata] = {}
        self._commit_failing = False
        self._consumer: KafkaConsumer | None = None
        self._assignments = PauseUntilReadBack()
        self._phase = "starting"
        self._assigned: list[str] = []
        self._lag: list[tuple[str, int, int]] = []
        self._observed_at = 0.0
        self._last_poll: float | None = None
        self._last_error: str | None = None
        self.consumed = 0
        self.restarts = 0
        self._thread = threading.Thread(target=self._run, name=f"events-{name}", daemon=True)

    def start(self) -> None:
        """Start consuming in the background."""
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to finish its batch, commit and leave the group."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end, at most ``timeout`` seconds."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Tell whether the thread runs; it only ends after ``request_stop``."""
        return self._thread.is_alive()

    def lag(self) -> list[tuple[str, int, int]]:
        """Return ``(topic, partition, lag)`` for each partition this thread owns."""
        return list(self._lag)

    def describe(self) -> dict[str, Any]:
        """Return this consumer's state for the health answer."""
        state, consumer = self._phase, self._consumer
        if state == "connected" and consumer is not None:
            state = _MEMBER_STATES.get(consumer.group_metadata().state, "joining")
        if state != "stopped" and not self._broker.ready:
            state = "disconnected"
        return {
            "name": self.name,
            "state": state,
            "alive": self.alive,
            "assigned_partitions": list(self._assigned),
            "consumed": self.consumed,
            "last_poll_seconds_ago": None if self._last_poll is None else round(time.monotonic() - self._last_poll, 3),
            "restarts": self.restarts,
            "last_error": self._last_error,
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            self._phase = "waiting for broker"
            if not self._broker.wait_ready(self._stop, timeout=_RETRY_SECONDS):
                continue
            consumer = self._connect()
            if consumer is None:
                self._stop.wait(_RETRY_SECONDS)
                continue
            try:
                self._consume(consumer)
            except Exception as error:
                # Whatever went wrong, this thread must not end while health says all is well:
                # log it, count it and start over with a new consumer.
                self.restarts += 1
                self._last_error = f"{type(error).__name__}: {error}"
                log.exception("consumer failed; reconnecting", extra={"consumer": self.name})
                self._stop.wait(_RETRY_SECONDS)
            finally:
                self._close(consumer)
        self._window.close()
        self._phase = "stopped"
        log.info("consumer stopped", extra={"consumer": self.name, "consumed": self.consumed})

    def _connect(self) -> KafkaConsumer | None:
        self._phase = "connecting"
        config = self._config
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=list(config.kafka_brokers), group_id=config.consumer_group,
                client_id=f"events-service-{self.name}", enable_auto_commit=False, auto_offset_reset="earliest",
                allow_auto_create_topics=False, session_timeout_ms=config.session_timeout_ms,
                heartbeat_interval_ms=config.heartbeat_interval_ms,
                max_poll_interval_ms=config.max_poll_interval_ms, request_timeout_ms=_CLIENT_TIMEOUT_MS,
                bootstrap_timeout_ms=_CLIENT_TIMEOUT_MS, reconnect_backoff_max_ms=config.reconnect_backoff_max_ms,
                # Under load, fetches of at least 64 KiB (or whatever 100 ms brought) cost far less CPU
                # per event than one fetch per record; idle, an event is logged within 100 ms.
                fetch_min_bytes=_FETCH_MIN_BYTES, fetch_max_wait_ms=_FETCH_MAX_WAIT_MS,
            )
        except kafka_errors.KafkaError as error:
            self._last_error = f"{type(error).__name__}: {error}"
            log.warning("consumer could not connect", extra={"consumer": self.name, "reason": self._last_error})
            return None
        self._assignments = PauseUntilReadBack(consumer)
        consumer.subscribe(list(TOPICS), listener=self._assignments)
        self._consumer = consumer
        self._phase = "connected"
        log.info("consumer connected", extra={"consumer": self.name, "group": config.consumer_group,
                                              "topics": list(TOPICS)})
        return consumer

    def _consume(self, consumer: KafkaConsumer) -> None:
        while not self._stop.is_set():
            batches = consumer.poll(timeout_ms=_POLL_MS)
            self._last_poll = time.monotonic()
            for partition, records in batches.items():
                self.consumed += self._events.log(records)
                last = records[-1]
                self._pending[partition] = OffsetAndMetadata(last.offset + 1, "", last.leader_epoch)
            self._commit(consumer)
            self._read_back(consumer)
            self._observe(consumer)

    def _read_back(self, consumer: KafkaConsumer) -> None:
        """Read the dedupe window of newly assigned partitions, then let them be fetched."""
        partitions = [partition for partition in self._assignments.to_read_back
                      if partition in consumer.assignment()]
        self._assignments.to_read_back.clear()
        if not partitions:
            return
        committed = {}
        for partition in partitions:
            offset = consumer.committed(partition, timeout_ms=_CLIENT_TIMEOUT_MS)
            committed[partition] = offset or 0
        read = self._window.read_back(committed, self._events.remember)
        log.info("dedupe window read back", extra={"consumer": self.name, "partitions": len(partitions),
                                                   "records": read})
        consumer.resume(*partitions)

    def _commit(self, consumer: KafkaConsumer) -> None:
        if not self._pending:
            return
        try:
            consumer.commit(offsets=dict(self._pending), timeout_ms=_CLIENT_TIMEOUT_MS)
        except kafka_errors.CommitFailedError as error:
            # The group moved these partitions; whoever owns them now starts at the last commit.
            log.warning("offsets not committed: group rebalanced", extra={"consumer": self.name, "detail": str(error)})
            self._pending.clear()
            return
        except kafka_errors.KafkaError as error:
            # Kept and retried with the next batch; a later offset supersedes an earlier one.
            if not self._commit_failing:
                log.warning("offsets not committed yet; will retry",
                            extra={"consumer": self.name, "detail": f"{type(error).__name__}: {error}"})
            self._commit_failing = True
            return
        if self._commit_failing:
            log.info("offsets committed again", extra={"consumer": self.name})
        self._commit_failing = False
        self._pending.clear()

    def _observe(self, consumer: KafkaConsumer) -> None:
        now = time.monotonic()
        if now - self._observed_at < _OBSERVE_SECONDS:
            return
        self._observed_at = now
        lag = []
        assigned = sorted(consumer.assignment())
        for partition in assigned:
            try:
                highwater = consumer.highwater(partition)
                position = consumer.position(partition, timeout_ms=0)
            except kafka_errors.IllegalStateError:
                continue  # revoked by a rebalance since assignment() answered
            if highwater is not None and position is not None:
                lag.append((partition.topic, partition.partition, max(0, highwater - position)))
        self._assigned = [f"{partition.topic}/{partition.partition}" for partition in assigned]
        self._lag = lag

    def _close(self, consumer: KafkaConsumer) -> None:
        self._consumer = None
        self._assigned, self._lag = [], []
        try:
            if self._pending:
                self._commit(consumer)
            consumer.close(autocommit=False, timeout_ms=_CLIENT_TIMEOUT_MS)
        except Exception:
            # Closing a broken consumer may fail too; the thread goes on with a new one all the same.
            log.exception("consumer did not close cleanly", extra={"consumer": self.name})


def init_app(app: Flask, broker: BrokerWatch, events: EventLog) -> list[ConsumerThread]:
    """Attach ``KAFKA_CONSUMER_THREADS`` consumer threads (none started; none when ``CONSUME_EVENTS`` is off)."""
    config: Config = app.config["SETTINGS"]
    count = config.consumer_threads if config.consume_events else 0
    threads = [ConsumerThread(f"consumer-{number}", config, broker, events) for number in range(1, count + 1)]
    app.extensions[_CONSUMERS] = threads
    return threads


def consumers_of(app: Flask) -> list[ConsumerThread]:
    """Return the consumer threads attached by ``init_app``."""
    return app.extensions[_CONSUMERS]
