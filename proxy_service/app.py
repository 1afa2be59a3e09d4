"""Application factory of the gateway: a small Flask app for its own endpoints, wrapped by the router."""

from __future__ import annotations

import random
from collections.abc import Callable

from flask import Flask, Response, jsonify

from cinema_common.webapp import new_app
from proxy_service.breaker import CircuitBreaker
from proxy_service.config import Config, RoutingSettings
from proxy_service.gateway import Gateway
from proxy_service.metrics import Metrics
from proxy_service.readiness import is_ready, probe_all
from proxy_service.routing import EVENTS, MONOLITH, MOVIES
from proxy_service.routing_file import RoutingSource
from proxy_service.upstream import Upstream

_EXTENSION = "proxy_service.gateway"


def create_app(config: Config | None = None, *, random_source: Callable[[], float] = random.random) -> Flask:
    """Build the gateway; gunicorn calls this once per worker."""
    config = config or Config.from_env()
    app = new_app(__name__, max_body_bytes=config.max_body_bytes)
    app.config["SETTINGS"] = config
    metrics = Metrics()
    upstreams = {
        name: Upstream(name, config.address(name), connect_timeout=config.connect_timeout_seconds,
                       read_timeout=config.read_timeout_seconds, pool_size=config.upstream_pool_size,
                       buffer_limit=config.response_buffer_bytes)
        for name in (MONOLITH, MOVIES, EVENTS)
    }
    routing = RoutingSource(config.routing, config.routing_config_file, check_seconds=config.routing_check_seconds,
                            on_change=lambda settings: metrics.movies_share(movies_share(settings)))
    metrics.movies_share(movies_share(routing.current()))
    breaker = CircuitBreaker(config.circuit_failure_threshold, config.circuit_cooldown_seconds,
                             probe_timeout=config.connect_timeout_seconds + config.read_timeout_seconds,
                             on_open=lambda: metrics.circuit_opened(MOVIES))
    gateway = Gateway(app.wsgi_app, upstreams=upstreams, routing=routing, breaker=breaker, metrics=metrics,
                      salt=config.migration_salt, max_body_bytes=config.max_body_bytes, random_source=random_source)
    app.wsgi_app = gateway
    app.extensions[_EXTENSION] = gateway

    @app.get("/health")
    def health() -> Response:
        """Liveness: 200 while the process serves requests, whatever the backends do."""
        return jsonify(status=True)

    @app.get("/ready")
    def ready() -> tuple[Response, int]:
        """Readiness: each backend's state, the circuit and the routing settings in force."""
        states = probe_all(upstreams, config.ready_timeout_seconds)
        states[MOVIES]["circuit"] = breaker.state
        state = routing.state
        body: dict = {"status": "ready", "upstreams": states,
                      "routing": {**vars(state.settings), "source": state.source, "file_error": state.error}}
        if not is_ready(states):
            body = {"error": "the monolith does not answer its health check", **body, "status": "not ready"}
            return jsonify(body), 503
        return jsonify(body), 200

    @app.get("/metrics")
    def metrics_view() -> Response:
        """Prometheus metrics of every worker of this gateway."""
        payload, content_type = metrics.exposition()
        return Response(payload, content_type=content_type)

    return app


def gateway_of(app: Flask) -> Gateway:
    """Return the router that ``create_app`` wrapped around ``app``."""
    return app.extensions[_EXTENSION]


def movies_share(settings: RoutingSettings) -> int:
    """Return the percentage of movies traffic that ``settings`` send to the movies service."""
    return settings.movies_migration_percent if settings.gradual_migration else 100
