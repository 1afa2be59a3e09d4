"""The Kafka producer of a process: one ``KafkaProducer``, acks from all in-sync replicas, every wait bounded.

kafka-python defaults to idempotence, ``acks=all`` and a 120 s delivery timeout; here the
delivery timeout and metadata wait equal the acknowledgement bound (``KAFKA_ACK_TIMEOUT_SECONDS``)
and the request timeout is that bound less ``KAFKA_LINGER_MS``, so a record the client gave
up on is also dropped from its buffer instead of reaching the broker minutes after the
caller heard 503.
"""

from __future__ import annotations

import logging
import threading
import time

import kafka.errors as kafka_errors
from flask import Flask, current_app
from kafka import KafkaProducer
from kafka.producer.future import RecordMetadata

from cinema_common.errors import ApiError
from events_service.broker import BrokerWatch
from events_service.config import Config
from events_service.metrics import EventMetrics

log = logging.getLogger(__name__)
_EXTENSION = "events.producer"


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

    def publish(self, topic: str, key: bytes, value: bytes) -> RecordMetadata:
        """Send one record and wait for the broker's acknowledgement.

        :raises ApiError: 503 when the broker is unreachable or does not acknowledge in time.
        """
        started = time.monotonic()
        deadline = started + self._config.ack_timeout_seconds
        for attempt in (1, 2):
            producer = self._producer_by(deadline, topic)
            try:
                future = producer.send(topic, value=value, key=key)
                metadata = future.get(timeout=max(0.0, deadline - time.monotonic()))
                break
            except kafka_errors.KafkaTimeoutError as error:
                self._fail(topic, "timeout", error)
                raise ApiError(503, f"Kafka did not acknowledge the event within "
                                    f"{self._config.ack_timeout_seconds:g}s; it was not published") from None
            except kafka_errors.KafkaError as error:
                if error.retriable or attempt == 2:
                    self._fail(topic, "error", error)
                    raise ApiError(503, "Kafka did not accept the event; it was not published") from None
                # A fatal producer error (a broker that lost its producer ids, after a restart without
                # its data) poisons this client for good. The broker refused the batch, so sending
                # once more with a new client cannot write the event twice.
                log.warning("kafka producer failed; replacing it", extra={"detail": f"{type(error).__name__}: {error}"})
                self._discard(producer)
        self._metrics.produced.labels(topic).inc()
        self._metrics.produce_latency.labels(topic).observe(time.monotonic() - started)
        return metadata

    def connect(self) -> None:
        """Create the producer now if it does not exist, so the first request does not pay for it."""
        try:
            self._producer_by(time.monotonic() + self._config.ack_timeout_seconds, None)
        except ApiError:
            if not self._closed:  # a worker that is stopping has nothing to retry
                log.warning("kafka producer not created yet; the next request will try again")

    def start_over(self) -> None:
        """Drop the producer, whose producer id belonged to a broker that lost its data; a new one follows."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            log.warning("kafka producer replaced: the broker lost its data")
            producer.close(timeout=0)
        self.connect()

    def close(self) -> None:
        """Send what is buffered (within the bound) and close the producer; later requests get 503."""
        with self._lock:
            self._closed = True
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=self._config.ack_timeout_seconds)

    def _producer_by(self, deadline: float, topic: str | None) -> KafkaProducer:
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise ApiError(503, "Kafka is unreachable; the event was not published")
        try:
            if self._closed:
                raise ApiError(503, "the events service is shutting down")
            if self._producer is None:
                if not self._broker.ready:
                    # Fail fast; building a client against a dead broker also leaks its socket (kafka-python).
                    if topic is not None:
                        self._metrics.produce_failures.labels(topic, "unreachable").inc()
                    raise ApiError(503, "Kafka is unreachable; the event was not published")
                self._producer = self._create(deadline, topic)
            return self._producer
        finally:
            self._lock.release()

    def _create(self, deadline: float, topic: str | None) -> KafkaProducer:
        bound = self._config.ack_timeout_ms
        try:
            producer = KafkaProducer(
                bootstrap_servers=list(self._config.kafka_brokers), client_id="events-service-producer",
                # kafka-python requires delivery_timeout_ms >= linger_ms + request_timeout_ms.
                acks="all", request_timeout_ms=bound - self._config.linger_ms, delivery_timeout_ms=bound,
                max_block_ms=bound,
                # Under load, records that arrive within linger_ms share one produce request: far less
                # CPU per event for the client and the broker, at the price of linger_ms of latency.
                linger_ms=self._config.linger_ms,
                # The client's own metrics are read by nothing here; /metrics has the service's.
                metrics_enabled=False,
                bootstrap_timeout_ms=max(1, round((deadline - time.monotonic()) * 1000)),
                reconnect_backoff_max_ms=self._config.reconnect_backoff_max_ms,
                # Only the admin client creates topics, with the configured partitions and replication.
                allow_auto_create_topics=False,
            )
        except kafka_errors.KafkaError as error:
            if topic is not None:
                self._fail(topic, "unreachable", error)
            raise ApiError(503, "Kafka is unreachable; the event was not published") from None
        log.info("kafka producer created", extra={"servers": list(self._config.kafka_brokers)})
        return producer

    def _discard(self, producer: KafkaProducer) -> None:
        with self._lock:
            if self._producer is producer:
                self._producer = None
        producer.close(timeout=0)

    def _fail(self, topic: str, reason: str, error: Exception) -> None:
        self._metrics.produce_failures.labels(topic, reason).inc()
        log.warning("event not published", extra={"topic": topic, "reason": reason,
                                                  "detail": f"{type(error).__name__}: {error}"})
        if reason != "error":
            self._broker.report_failure(f"{type(error).__name__}: {error}")


def init_app(app: Flask, metrics: EventMetrics, broker: BrokerWatch) -> EventPublisher:
    """Attach the process's publisher to ``app``; the producer itself is created once the broker answers."""
    publisher = EventPublisher(app.config["SETTINGS"], metrics, broker)
    app.extensions[_EXTENSION] = publisher
    return publisher


def publisher_of(app: Flask | None = None) -> EventPublisher:
    """Return the publisher attached by ``init_app`` (to the current app by default)."""
    return (app or current_app).extensions[_EXTENSION]
