"""Consumer threads: each owns one ``KafkaConsumer`` (they are not thread-safe), logs every event, then commits.

A thread polls with a bounded timeout, hands each record to the event log (one JSON line,
``/api/events/recent``, the counters; see eventlog.py), and commits the offsets after logging. Any failure is
logged and the thread builds a new consumer; only ``stop()`` ends it. On stop the
thread finishes its batch, commits and leaves the group, so a successor starts right
after the last logged event: nothing lost, nothing logged twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import kafka.errors as kafka_errors
from flask import Flask
from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata, TopicPartition

from events_service.broker import BrokerWatch
from events_service.config import Config
from events_service.eventlog import EventLog, SeenEvents
from events_service.events import TOPICS
from events_service.metrics import EventMetrics
from events_service.shared import Reporter, SharedState

log = logging.getLogger(__name__)
_CONSUMERS = "events.consumers"
_REPORTER = "events.reporter"
# How often a worker tells the others (health) and /metrics (lag) how its consumers are.
_REPORT_SECONDS = 1.0
_POLL_MS = 500
_CLIENT_TIMEOUT_MS = 5000
_FETCH_MIN_BYTES = 64 * 1024
_FETCH_MAX_WAIT_MS = 100
_RETRY_SECONDS = 1.0
_OBSERVE_SECONDS = 0.5
_MEMBER_STATES = {"<stable>": "consuming", "<rebalancing>": "rebalancing", "<unjoined>": "joining"}


class ConsumerWorker:
    """One consumer thread in the service's consumer group."""

    def __init__(self, name: str, config: Config, broker: BrokerWatch, events: EventLog) -> None:
        self.name = name
        self._config = config
        self._broker = broker
        self._events = events
        self._stop = threading.Event()
        self._start_over = threading.Event()
        self._pending: dict[TopicPartition, OffsetAndMetadata] = {}
        self._commit_failing = False
        self._consumer: KafkaConsumer | None = None
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

    def start_over(self) -> None:
        """Read every assigned partition from its beginning: the topics were recreated empty.

        Nothing pending is committed: offsets of the lost topics mean nothing in the new ones.
        Events read again are recognised by id and not logged twice.
        """
        self._start_over.set()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end, at most ``timeout`` seconds."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def started(self) -> bool:
        """Tell whether ``start`` was called: only the worker holding the consumer lease starts its consumers."""
        return self._thread.ident is not None

    @property
    def alive(self) -> bool:
        """Tell whether the thread runs; it only ends after ``request_stop``."""
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Tell whether a stop was requested."""
        return self._stop.is_set()

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
        self._phase = "stopped"
        log.info("consumer stopped", extra={"consumer": self.name, "consumed": self.consumed})

    def _connect(self) -> KafkaConsumer | None:
        self._phase = "connecting"
        config = self._config
        try:
            consumer = KafkaConsumer(
                *TOPICS, bootstrap_servers=list(config.kafka_brokers), group_id=config.consumer_group,
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
        self._consumer = consumer
        self._phase = "connected"
        log.info("consumer connected", extra={"consumer": self.name, "group": config.consumer_group,
                                              "topics": list(TOPICS)})
        return consumer

    def _consume(self, consumer: KafkaConsumer) -> None:
        while not self._stop.is_set():
            if self._start_over.is_set() and consumer.assignment():
                # Offsets of the lost topics mean nothing in the new ones: read them from the start.
                self._start_over.clear()
                self._pending.clear()
                consumer.seek_to_beginning()
                log.warning("consumer reading the recreated topics from the beginning", extra={"consumer": self.name})
            batches = consumer.poll(timeout_ms=_POLL_MS)
            self._last_poll = time.monotonic()
            for partition, records in batches.items():
                self.consumed += self._events.log(records)
                last = records[-1]
                self._pending[partition] = OffsetAndMetadata(last.offset + 1, "", last.leader_epoch)
            self._commit(consumer)
            self._observe(consumer)

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


def init_app(app: Flask, metrics: EventMetrics, broker: BrokerWatch, shared: SharedState) -> list[ConsumerWorker]:
    """Attach ``KAFKA_CONSUMER_THREADS`` consumers and their reporter (none started) to ``app``.

    The consumers start only in the worker that holds the replica's consumer lease (lease.py).
    """
    config: Config = app.config["SETTINGS"]
    events = EventLog(metrics, shared, SeenEvents())
    count = config.consumer_threads if config.consume_events else 0
    workers = [ConsumerWorker(f"consumer-{number}", config, broker, events) for number in range(1, count + 1)]
    for worker in workers:
        broker.when_recreated(worker.start_over)

    def report() -> None:
        running = [worker for worker in workers if worker.started]
        shared.report(os.getpid(), [worker.describe() for worker in running])
        metrics.report_lag(triple for worker in running for triple in worker.lag())

    app.extensions[_CONSUMERS] = workers
    app.extensions[_REPORTER] = Reporter(report, _REPORT_SECONDS)
    return workers


def consumers_of(app: Flask) -> list[ConsumerWorker]:
    """Return the consumers attached by ``init_app``."""
    return app.extensions[_CONSUMERS]


def reporter_of(app: Flask) -> Reporter:
    """Return the reporter attached by ``init_app``."""
    return app.extensions[_REPORTER]
