"""Fixtures of the events service tests: a real Kafka-protocol broker behind a relay that can cut it off."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from flask import Flask

from devstack import kafka
from devstack.net import free_port
from events_service.app import create_app, shutdown
from events_service.config import Config
from tests.events_service.relay import Relay

_groups = itertools.count(1)


@dataclass(frozen=True)
class Broker:
    """The session's broker: clients connect through ``relay``, whose port the broker advertises."""

    bootstrap: str
    relay: Relay


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """Start Tansu on a free port, reachable only through a relay on another free port."""
    broker_port, relay_port = free_port(), free_port()
    relay = Relay(relay_port, broker_port)
    with kafka.running(broker_port, advertised_port=relay_port) as bootstrap:
        relay.start()
        try:
            yield Broker(bootstrap, relay)
        finally:
            relay.stop()


@pytest.fixture
def config(broker: Broker) -> Config:
    """Settings for an app on the session broker, in a consumer group of its own."""
    return Config(kafka_brokers=(broker.bootstrap,), consumer_group=f"events-test-{next(_groups)}",
                  broker_check_seconds=0.2, recent_events=5000)


@pytest.fixture
def make_app() -> Iterator[Callable[[Config], Flask]]:
    """Build apps from settings; each is shut down (consumers stopped, producer closed) after the test."""
    apps: list[Flask] = []

    def make(config: Config) -> Flask:
        app = create_app(config)
        app.testing = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        shutdown(app)


@pytest.fixture
def app(make_app: Callable[[Config], Flask], config: Config) -> Flask:
    """The events service on the session broker, ready to publish."""
    app = make_app(config)
    wait_until(lambda: app.test_client().get("/api/events/ready").status_code == 200, 20, "service ready")
    return app



@pytest.fixture
def offline_app(make_app: Callable[[Config], Flask]) -> Flask:
    """The events service pointed at a port nobody listens on, with a short acknowledgement bound."""
    return make_app(replace(Config(), kafka_brokers=(f"127.0.0.1:{free_port()}",), ack_timeout_seconds=1.0,
                            broker_check_seconds=0.2, consume_events=False))


def wait_until(condition: Callable[[], object], timeout: float, what: str,
               evidence: Callable[[], str] | None = None) -> None:
    """Return once ``condition()`` is true; fail the test after ``timeout`` seconds, with ``evidence()`` if given."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f"\n{evidence()}" if evidence else ""
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}{detail}")
        time.sleep(0.05)
