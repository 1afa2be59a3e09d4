"""Watching the Kafka broker: is it reachable, and do the event topics exist (created here if missing).

Creating a kafka-python client needs a reachable broker, so nothing here runs at import
or in ``create_app``: a background thread checks every ``KAFKA_CHECK_INTERVAL_SECONDS``,
creates the admin client once the broker accepts connections, and creates missing
topics whenever it finds them missing (a cluster with automatic topic creation off
needs that). The request path only reads the last answer (``ready``): no network call.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import kafka.errors as kafka_errors
from flask import Flask
from kafka import KafkaAdminClient

from events_service.background import BackgroundThread
from events_service.config import Config
from events_service.events import TOPICS
from events_service.metrics import EventMetrics

log = logging.getLogger(__name__)
_EXTENSION = "events.broker"


class BrokerWatch(BackgroundThread):
    """A thread that keeps the broker's reachability and the topics' existence up to date."""

    def __init__(self, config: Config, metrics: EventMetrics) -> None:
        super().__init__("events-broker-watch")
        self._config = config
        self._metrics = metrics
        # A check may take as long as a producer waits for an ack: a busy broker (or machine) is
        # slow, not gone. A broker that refuses connections is seen at once whatever this bound.
        self._check_ms = config.ack_timeout_ms
        self._ready = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._admin: KafkaAdminClient | None = None
        self._reachable: bool | None = None
        self._since = datetime.now(UTC)
        self._error: str | None = "not checked yet"
        self._topics_ready = False
        self._on_ready: list[Callable[[], None]] = []

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` in the watch thread at every check that finds the broker ready, before saying so."""
        self._on_ready.append(callback)

    @property
    def ready(self) -> bool:
        """Tell whether the broker answered the last check and every topic exists (no network call)."""
        return self._ready.is_set()

    def wait_ready(self, stop: threading.Event, timeout: float) -> bool:
        """Wait until the broker is ready or ``stop`` is set, at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self._ready.is_set() and not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._ready.wait(min(remaining, 0.2))
        return self._ready.is_set()

    def report_failure(self, reason: str) -> None:
        """Record that a client just failed to reach the broker, and check again now rather than at the next tick."""
        self._set_state(False, reason)
        self._wake.set()

    def check_now(self) -> None:
        """Run the next check at once."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end (waking it from its pause) and wait for it, at most ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        super().stop(timeout)

    def describe(self) -> dict[str, Any]:
        """Return the broker's state for the health and readiness answers."""
        with self._lock:
            return {
                "reachable": bool(self._reachable),
                "servers": list(self._config.kafka_brokers),
                "since": self._since.isoformat(),
                "error": self._error,
                "topics_ready": self._topics_ready,
            }

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    self._check()
                except Exception as error:
                    # A bug here must not freeze readiness at its last answer: say so, and check again.
                    log.exception("broker check failed")
                    self._set_state(False, f"{type(error).__name__}: {error}")
                self._wake.wait(self._config.broker_check_seconds)
        finally:
            if self._admin is not None:
                self._admin.close()

    def _check(self) -> None:
        try:
            # A TCP connect first: a broker that is gone refuses it at once, where a client would retry.
            self._probe()
            if self._admin is None:
                self._admin = KafkaAdminClient(
                    bootstrap_servers=list(self._config.kafka_brokers), client_id="events-service-admin",
                    request_timeout_ms=self._check_ms, bootstrap_timeout_ms=self._check_ms,
                    reconnect_backoff_max_ms=self._config.reconnect_backoff_max_ms,
                )
            missing = self._missing_topics()
            topics_ready = not missing or self._create(missing)
        except (kafka_errors.KafkaError, OSError) as error:
            self._set_state(False, f"{type(error).__name__}: {error}")
            return
        if topics_ready:
            # Before readiness is announced, so that a request let in by it finds the producer made.
            for callback in self._on_ready:
                callback()
        with self._lock:
            self._topics_ready = topics_ready
        self._set_state(True, None if topics_ready else "topics could not be created")

    def _missing_topics(self) -> list[str]:
        missing = []
        for topic in self._admin.describe_topics(list(TOPICS)):
            error = kafka_errors.for_code(topic["error_code"])
            if error is kafka_errors.UnknownTopicOrPartitionError:
                missing.append(topic["name"])
            elif error is not kafka_errors.NoError:
                raise error(f"describing topic {topic['name']}")
        return missing

    def _probe(self) -> None:
        """Connect to each bootstrap server in turn until one accepts."""
        errors = []
        for server in self._config.kafka_brokers:
            host, _, port = server.rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=self._check_ms / 1000):
                    return
            except OSError as error:
                errors.append(f"{server}: {error}")
        raise OSError("; ".join(errors))

    def _create(self, topics: list[str]) -> bool:
        spec = {"num_partitions": self._config.topic_partitions,
                "replication_factor": self._config.replication_factor}
        response = self._admin.create_topics({topic: dict(spec) for topic in topics},
                                             timeout_ms=self._check_ms, raise_errors=False)
        created = True
        for result in response["topics"]:
            error = kafka_errors.for_code(result["error_code"])
            if error is kafka_errors.NoError:
                log.info("created topic", extra={"topic": result["name"], **spec})
            elif error is not kafka_errors.TopicAlreadyExistsError:
                created = False
                log.error("could not create topic", extra={"topic": result["name"], "reason": error.__name__,
                                                           "detail": result.get("error_message")})
        return created

    def _set_state(self, reachable: bool, error: str | None) -> None:
        with self._lock:
            changed = reachable != self._reachable
            self._reachable = reachable
            self._error = error
            if changed:
                self._since = datetime.now(UTC)
            if not reachable:
                self._topics_ready = False
            ready = reachable and self._topics_ready
            if ready:
                self._ready.set()
            else:
                self._ready.clear()
        self._metrics.broker_reachable.set(1 if reachable else 0)
        if changed and reachable:
            log.info("kafka broker reachable", extra={"servers": list(self._config.kafka_brokers)})
        elif changed:
            log.warning("kafka broker unreachable", extra={"servers": list(self._config.kafka_brokers),
                                                           "reason": error})


def init_app(app: Flask, metrics: EventMetrics) -> BrokerWatch:
    """Attach a broker watch (not started) to ``app``."""
    watch = BrokerWatch(app.config["SETTINGS"], metrics)
    app.extensions[_EXTENSION] = watch
    return watch


def broker_of(app: Flask) -> BrokerWatch:
    """Return the watch attached by ``init_app``."""
    return app.extensions[_EXTENSION]
