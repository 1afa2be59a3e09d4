"""Application factory of the gateway: a small Flask app for its own endpoints, wrapped by the router."""

from __future__ import annotations

import random
from collections.abc import Callable

from flask import Flask, Response, jsonify

from cinema_common.webapp import new_app
from proxy_service.admin import StatusSources, init_admin
from proxy_service.breaker import CircuitBreaker
from proxy_service.config import Config
from proxy_service.gateway import Gateway
from proxy_service.guard import Guard, GuardLimits, Trip
from proxy_service.metrics import Metrics
from proxy_service.readiness import is_ready, probe_all
from proxy_service.routing import EVENTS, MONOLITH, MOVIES
from proxy_service.routing_file import RoutingSource
from proxy_service.safety import MigrationSafety
from proxy_service.shadow import ShadowRunner
from proxy_service.split import TRIPPED, Split, SplitController
from proxy_service.traffic_history import TrafficHistory
from proxy_service.upstream import Upstream
from proxy_service.worker_files import WorkerFiles

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
    routing = RoutingSource(config.routing, config.routing_config_file, check_seconds=config.routing_check_seconds)
    breaker = CircuitBreaker(config.circuit_failure_threshold, config.circuit_cooldown_seconds,
                             probe_timeout=config.connect_timeout_seconds + config.read_timeout_seconds,
                             on_open=lambda: metrics.circuit_opened(MOVIES))
    safety = _migration_safety(config, routing, metrics)
    gateway = Gateway(app.wsgi_app, upstreams=upstreams, routing=routing, breaker=breaker, metrics=metrics,
                      salt=config.migration_salt, max_body_bytes=config.max_body_bytes, safety=safety,
                      random_source=random_source)
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
        split, guard = safety.split.current(), safety.guard
        body: dict = {"status": "ready", "upstreams": states,
                      "routing": {**vars(state.settings), "source": state.source, "file_error": state.error},
                      "split": {"percent": split.percent, "mode": split.mode, "source": split.source},
                      "guard": {"state": guard.state, "reason": guard.trip.reason if guard.trip else None}}
        if not is_ready(states):
            body = {"error": "the monolith does not answer its health check", **body, "status": "not ready"}
            return jsonify(body), 503
        return jsonify(body), 200

    @app.get("/metrics")
    def metrics_view() -> Response:
        """Prometheus metrics of every worker of this gateway."""
        # The split follows the clock (a ramp) even without traffic: bring its gauges up to date first.
        safety.split.current()
        payload, content_type = metrics.exposition()
        return Response(payload, content_type=content_type)

    init_admin(app, StatusSources(safety.split, safety.guard, breaker, safety.shadow, safety.history))
    return app


def _migration_safety(config: Config, routing: RoutingSource, metrics: Metrics) -> MigrationSafety:
    """Build the split controller, the guard, the shadow runner and the traffic history of one worker."""
    files = WorkerFiles.from_env()
    limits = GuardLimits(config.routing.guard_enabled, config.guard_window_seconds, config.guard_min_requests,
                         config.guard_max_error_rate, config.guard_max_p99_seconds)
    guard = Guard(limits, rearm_token=routing.current().guard_rearm)

    def published(split: Split) -> None:
        step = split.position.index + 1 if split.position is not None and split.position.index >= 0 else 0
        metrics.migration_state(split.percent, step, split.mode == TRIPPED)

    split = SplitController(routing, guard, files=files, check_seconds=config.routing_check_seconds,
                            on_change=published)

    def tripped(trip: Trip) -> None:
        metrics.guard_tripped()
        split.tripped(trip)

    guard.on_trip = tripped
    split.current()
    shadow = ShadowRunner({MONOLITH: config.monolith_url, MOVIES: config.movies_service_url},
                          max_in_flight=config.shadow_max_in_flight, connect_timeout=config.connect_timeout_seconds,
                          read_timeout=config.read_timeout_seconds, files=files, on_result=metrics.shadow_result)
    history = TrafficHistory(metrics.collect, (MONOLITH, MOVIES, EVENTS), sample_seconds=config.status_sample_seconds)
    history.start()
    return MigrationSafety(split, guard, shadow, history, config.admin_port)


def gateway_of(app: Flask) -> Gateway:
    """Return the router that ``create_app`` wrapped around ``app``."""
    return app.extensions[_EXTENSION]

