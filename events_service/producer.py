"""The Kafka producer of the process: one ``KafkaProducer``, acks from all in-sync replicas, every wait bounded.

kafka-python 3.0.12 defaults to idempotence, ``acks=all``, a 120 s delivery timeout and a
60 s ``max_block_ms``. Here the producer keeps ``acks=all`` without idempotence (see
``connect``), and a request waits at most ``KAFKA_ACK_TIMEOUT_SECONDS`` in all:
``max_block_ms`` (the metadata wait inside ``send()``) and the delivery timeout equal that
bound, and ``future.get`` waits only for what is left of it. The producer is created by the
broker watch's thread, never by a request, and a request made while the watch knows the
broker is unreachable is answered 503 at once, without touching the network.

A 503 cannot take an event back: the record may sit in a socket or in the broker already,
so the answer says it may still be published, and a retry with the same
``Idempotency-Key`` (the same event id) is the safe way on (the consumers log an id once).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import NamedTuple

import kafka.errors as kafka_errors
from flask import Flask, current_app
from kafka import KafkaProducer

from cinema_common.errors import ApiError
from events_service.broker import BrokerWatch
from events_service.config import Config
from events_service.events import TOPICS
from events_service.metrics import EventMetrics

log = logging.getLogger(__name__)
_EXTENSION = "events.producer"
NOT_ACKNOWLEDGED = ("the event was not acknowledged by Kafka and may still be published; "
                    "a retry with the same Idempotency-Key is safe")


class Acknowledgement(NamedTuple):
    """Where the broker wrote a record."""

    partition: int
    offset: int


def unavailable(reason: str) -> ApiError:
    """Return the 503 of a publish that was not acknowledged, with ``reason`` first."""
    return ApiError(503, f"{reason}: {NOT_ACKNOWLEDGED}")


class EventPublisher:
    """Publishes events and returns the broker's acknowledgement, or raises a 503 within the bound."""

    def __init__(self, config: Config, metrics: EventMetrics, broker: BrokerWatch) -> None:
        self._config = config
        self._metrics = metrics
        self._broker = broker
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        """Tell whether the producer has been created (it reconnects by itself from then on)."""
        return self._producer is not None

    def publish(self, topic: str, key: bytes, value: bytes) -> Acknowledgement:
        """Send one record and wait for the broker's acknowledgement, at most ``KAFKA_ACK_TIMEOUT_SECONDS``.

        :raises ApiError: 503 when the broker is known to be unreachable (at once), or does not
            acknowledge within the bound, or refuses the record.
        """
        started = time.monotonic()
        producer = self._producer
        if self._closed:
            raise unavailable("the events service is shutting down")
        if producer is None or not self._broker.ready:
            self._metrics.produce_failures.labels(topic, "unreachable").inc()
            raise unavailable("Kafka is unreachable")
        bound = self._config.ack_timeout_seconds
        try:
            future = producer.send(topic, value=value, key=key)
            metadata = future.get(timeout=max(0.0, started + bound - time.monotonic()))
        except kafka_errors.KafkaTimeoutError as error:
            self._fail(topic, "timeout", error)
            raise unavailable(f"Kafka did not acknowledge the event within {bound:g}s") from None
        except kafka_errors.KafkaError as error:
            self._fail(topic, "error", error)
            if not error.retriable:
                # A fatal error poisons the client for good: the watch builds a new one at once.
                self._discard(producer, error)
            raise unavailable(f"Kafka did not take the event ({type(error).__name__})") from None
        self._metrics.produced.labels(topic).inc()
        self._metrics.produce_latency.labels(topic).observe(time.monotonic() - started)
        return Acknowledgement(metadata.partition, metadata.offset)

    def connect(self) -> None:
        """Create the producer if it does not exist and learn the topics' partitions; the broker watch calls this."""
        with self._lock:
            if self._closed or self._producer is not None:
                return
            bound = self._config.ack_timeout_ms
            try:
                producer = KafkaProducer(
                    bootstrap_servers=list(self._config.kafka_brokers), client_id="events-service-producer",
                    # kafka-python requires delivery_timeout_ms >= linger_ms + request_timeout_ms.
                    acks="all", request_timeout_ms=bound - self._config.linger_ms, delivery_timeout_ms=bound,
                    # Not idempotent (docs/decisions/0014-events-producer-not-idempotent.md): after a batch
                    # expired in a stall, kafka-python 3.0.12's idempotent producer waited for a new
                    # producer id it never asked for, and timed out every record from then on. The
                    # consumers log an event id once, so a copy a retry wrote is harmless; one request
                    # in flight keeps a retried batch from overtaking a later one (per-entity order).
                    enable_idempotence=False, max_in_flight_requests_per_connection=1,
                    max_block_ms=bound, bootstrap_timeout_ms=bound,
                    # Under load, records that arrive within linger_ms share one produce request: far less
                    # CPU per event for the client and the broker, at the price of linger_ms of latency.
                    linger_ms=self._config.linger_ms,
                    # The client's own metrics are read by nothing here; /metrics has the service's.
                    metrics_enabled=False,
                    reconnect_backoff_max_ms=self._config.reconnect_backoff_max_ms,
                    # Only the admin client creates topics, with the configured partitions and replication.
                    allow_auto_create_topics=False,
                )
            except kafka_errors.KafkaError as error:
                log.warning("kafka producer not created yet; the broker watch will try again",
                            extra={"detail": f"{type(error).__name__}: {error}"})
                return
            try:
                # Metadata now, so that a request's send() finds it and does not block on it.
                for topic in TOPICS:
                    producer.partitions_for(topic)
            except kafka_errors.KafkaError as error:
                producer.close(timeout=0)
                log.warning("kafka producer not created yet; the broker watch will try again",
                            extra={"detail": f"{type(error).__name__}: {error}"})
                return
            self._producer = producer
        log.info("kafka producer created", extra={"servers": list(self._config.kafka_brokers)})

    def close(self) -> None:
        """Send what is buffered (within the bound) and close the producer; later requests get 503."""
        with self._lock:
            self._closed = True
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=self._config.ack_timeout_seconds)
            except kafka_errors.KafkaError as error:
                # Records still unacknowledged after the bound: their requests were answered 503 already.
                log.warning("kafka producer did not flush within the bound", extra={"detail": str(error)})

    def _discard(self, producer: KafkaProducer, error: Exception) -> None:
        with self._lock:
            if self._producer is not producer:
                return
            self._producer = None
        log.warning("kafka producer failed; replacing it", extra={"detail": f"{type(error).__name__}: {error}"})
        # Closed in the background: close() waits for (and raises on) records still pending.
        threading.Thread(target=self._close_quietly, args=(producer,), name="events-producer-close",
                         daemon=True).start()
        self._broker.check_now()

    def _close_quietly(self, producer: KafkaProducer) -> None:
        try:
            producer.close(timeout=self._config.ack_timeout_seconds)
        except kafka_errors.KafkaError as error:
            log.warning("replaced kafka producer did not close cleanly", extra={"detail": str(error)})

    def _fail(self, topic: str, reason: str, error: Exception) -> None:
        self._metrics.produce_failures.labels(topic, reason).inc()
        log.warning("event not acknowledged", extra={"topic": topic, "reason": reason,
                                                    "detail": f"{type(error).__name__}: {error}"})
        if reason == "timeout":
            # Whoever asks next hears 503 at once, until the watch sees the broker answer again.
            self._broker.report_failure(f"{type(error).__name__}: {error}")


def init_app(app: Flask, metrics: EventMetrics, broker: BrokerWatch) -> EventPublisher:
    """Attach the process's publisher to ``app``; the broker watch creates the producer once the broker answers."""
    publisher = EventPublisher(app.config["SETTINGS"], metrics, broker)
    app.extensions[_EXTENSION] = publisher
    broker.when_ready(publisher.connect)
    return publisher


def publisher_of(app: Flask | None = None) -> EventPublisher:
    """Return the publisher attached by ``init_app`` (to the current app by default)."""
    return (app or current_app).extensions[_EXTENSION]
