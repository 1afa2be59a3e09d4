"""Liveness, readiness and metrics of the events service."""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, jsonify

from events_service.broker import broker_of
from events_service.consumer import consumers_of
from events_service.metrics import metrics_view
from events_service.producer import publisher_of
from events_service.shared import shared_of

bp = Blueprint("health", __name__)
bp.add_url_rule("/metrics", "metrics", metrics_view)


@bp.get("/api/events/health")
def health() -> Response | tuple[Response, int]:
    """Answer 200 while the service can serve, with the broker's state and the replica's consumers.

    The consumers run in one worker of the replica (lease.py): described as they are now when
    that worker answers, else as it reported them last (every second). A consumer thread
    only ends when the service stops; one that ended otherwise makes this 503.
    """
    pid = os.getpid()
    consumers = [{**worker.describe(), "worker": pid, "reported_seconds_ago": 0.0}
                 for worker in consumers_of(current_app) if worker.started]
    consumers += shared_of(current_app).consumers(besides=pid)
    body = {
        "status": True,
        "broker": broker_of(current_app).describe(),
        "producer": {"created": publisher_of().connected},
        "consumers": consumers,
    }
    dead = [f"{consumer['name']} of worker {consumer['worker']}" for consumer in consumers
            if not consumer["alive"] and consumer["state"] != "stopped"]
    if dead:
        return jsonify(error=f"consumer thread not running: {', '.join(dead)}", **{**body, "status": False}), 503
    return jsonify(body)


@bp.get("/api/events/ready")
def ready() -> Response | tuple[Response, int]:
    """Answer 200 when the broker answers and the topics exist, else 503."""
    watch = broker_of(current_app)
    broker = watch.describe()
    if not watch.ready:
        reason = "Kafka broker unreachable" if not broker["reachable"] else "Kafka topics not ready"
        return jsonify(error=reason, ready=False, broker=broker), 503
    return jsonify(ready=True, broker=broker)
