"""The publisher as a unit: what it answers, and how fast, when it cannot publish."""

from __future__ import annotations

import time

import pytest

from cinema_common.errors import ApiError
from events_service.broker import BrokerWatch
from events_service.config import Config
from events_service.metrics import EventMetrics
from events_service.producer import NOT_ACKNOWLEDGED, EventPublisher


def _publisher() -> EventPublisher:
    metrics = EventMetrics()
    config = Config()
    return EventPublisher(config, metrics, BrokerWatch(config, metrics))  # the watch never saw a broker


def test_a_broker_known_unreachable_is_a_503_at_once_that_promises_nothing_false():
    publisher = _publisher()
    started = time.monotonic()
    with pytest.raises(ApiError) as raised:
        publisher.publish("movie-events", b"1", b"{}")
    assert time.monotonic() - started < 0.1
    assert raised.value.status == 503
    assert str(raised.value.message) == f"Kafka is unreachable: {NOT_ACKNOWLEDGED}"
    assert "may still be published" in NOT_ACKNOWLEDGED
    assert "Idempotency-Key" in NOT_ACKNOWLEDGED


def test_a_closed_publisher_creates_no_producer_and_says_it_is_stopping():
    publisher = _publisher()
    publisher.close()
    publisher.connect()
    assert not publisher.connected
    with pytest.raises(ApiError) as raised:
        publisher.publish("movie-events", b"1", b"{}")
    assert raised.value.message.startswith("the events service is shutting down")
