"""Liveness, readiness and metrics of the events service."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from events_service.broker import broker_of
from events_service.consumer import consumers_of
from events_service.metrics import metrics_view
from events_service.producer import publisher_of

bp = Blueprint("health", __name__)
bp.add_url_rule("/metrics", "metrics", metrics_view)


@bp.get("/api/events/health")
def health() -> Response | tuple[Response, int]:
    """Answer 200 while the service can serve, with the broker's state and each consumer thread's, read now.

    A consumer thread only ends when the service stops; one that ended otherwise makes this 503.
    """
    consumers = [thread.describe() for thread in consumers_of(current_app)]
    body = {
        "status": True,
        "broker": broker_of(current_app).describe(),
        "producer": {"created": publisher_of().connected},
        "consumers": consumers,
    }
    dead = [consumer["name"] for consumer in consumers if not consumer["alive"] and consumer["state"] != "stopped"]
    if dead:
        return jsonify(error=f"consumer thread not running: {', '.join(dead)}", **{**body, "status": False}), 503
    return jsonify(body)


@bp.get("/api/events/ready")
def ready() -> Response | tuple[Response, int]:
    """Answer 200 when the broker answers, the topics exist and the producer is made, else 503."""
    watch = broker_of(current_app)
    broker = watch.describe()
    if not watch.ready or not publisher_of().connected:
        reason = ("Kafka broker unreachable" if not broker["reachable"] else
                  "Kafka topics not ready" if not watch.ready else "Kafka producer not created yet")
        return jsonify(error=reason, ready=False, broker=broker), 503
    return jsonify(ready=True, broker=broker)
