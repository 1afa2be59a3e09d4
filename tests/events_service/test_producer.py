"""The publisher as a unit: what it says when it cannot create its producer yet."""

from __future__ import annotations

import logging

import pytest

from events_service.broker import BrokerWatch
from events_service.config import Config
from events_service.metrics import EventMetrics
from events_service.producer import EventPublisher

RETRY = "kafka producer not created yet; the next request will try again"


@pytest.mark.parametrize(("closed", "warned"), [(False, True), (True, False)], ids=["serving", "stopping"])
def test_a_retry_is_promised_only_by_a_publisher_that_still_serves(caplog, closed, warned):
    metrics = EventMetrics()
    config = Config()
    publisher = EventPublisher(config, metrics, BrokerWatch(config, metrics))  # the watch never saw a broker
    if closed:
        publisher.close()
    caplog.set_level(logging.WARNING, logger="events_service.producer")
    publisher.connect()
    assert (RETRY in caplog.messages) is warned
    assert not publisher.connected
