"""Fixtures of the gateway tests: three real backends on loopback and the gateway in front of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from flask import Flask

from proxy_service.app import create_app, gateway_of
from proxy_service.config import Config, RoutingSettings
from tests.proxy_service.backends import Backend


@pytest.fixture
def backends() -> Iterator[SimpleNamespace]:
    """The monolith, the movies service and the events service as echoing HTTP servers."""
    servers = SimpleNamespace(monolith=Backend("monolith"), movies=Backend("movies-service"),
                              events=Backend("events-service"))
    yield servers
    for server in vars(servers).values():
        server.stop()


@pytest.fixture
def make_app(backends: SimpleNamespace) -> Iterator[Callable[..., Flask]]:
    """Build a gateway in front of ``backends``; keyword arguments override Config fields or routing fields."""
    routing_fields = {field.name for field in dataclasses.fields(RoutingSettings)}
    made: list[Flask] = []

    def make(random_source: Callable[[], float] | None = None, **overrides: object) -> Flask:
        routing = {key: overrides.pop(key) for key in list(overrides) if key in routing_fields}
        settings = {"monolith_url": backends.monolith.url, "movies_service_url": backends.movies.url,
                    "events_service_url": backends.events.url, **overrides}
        config = Config(routing=RoutingSettings(**routing), **settings)
        app = create_app(config, **({"random_source": random_source} if random_source else {}))
        app.testing = True
        made.append(app)
        return app

    yield make
    for app in made:
        gateway_of(app).close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The gateway with the default settings (50 % of movies traffic to the movies service)."""
    return make_app()

