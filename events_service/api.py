"""The events API: publish a movie, user or payment event; read what the consumers saw lately."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from cinema_common.jsonbody import json_object
from cinema_common.queryparams import query_integer
from events_service.eventlog import recent_of
from events_service.events import EVENT_TYPES, encode, idempotency_key, message_key, new_event
from events_service.producer import publisher_of

bp = Blueprint("events", __name__)
_DEFAULT_LIMIT = 20


@bp.post("/api/events/<any(movie, user, payment):kind>")
def publish(kind: str) -> Response:
    """Validate the body, publish the event and answer with the partition and offset the broker gave."""
    event_type = EVENT_TYPES[kind]
    key = idempotency_key(request.headers.get("Idempotency-Key"))
    payload = event_type.validate(json_object())
    event = new_event(event_type, payload, key)
    # Encoded once, for Kafka and for the answer alike: this is the hot path of the service.
    value = encode(event)
    acknowledged = publisher_of().publish(event_type.topic, message_key(event_type, payload), value)
    body = b'{"status":"success","partition":%d,"offset":%d,"event":%b}' % (
        acknowledged.partition, acknowledged.offset, value)
    return Response(body, status=201, mimetype="application/json")


@bp.get("/api/events/recent")
def recent() -> Response:
    """Return the events this replica's consumer threads logged most recently, newest first."""
    buffer = recent_of(current_app)
    limit = _limit(buffer.capacity)
    events = buffer.latest(limit)
    return jsonify(events=events, count=len(events), capacity=buffer.capacity)


def _limit(capacity: int) -> int:
    return query_integer("limit", default=min(_DEFAULT_LIMIT, capacity), minimum=1, maximum=capacity,
                         expected=f"an integer from 1 to {capacity}")
