"""Subscription plans of users."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from cinema_common import jsonbody
from cinema_common.db import transaction
from cinema_common.errors import ApiError
from monolith.ownership import owned_rows, require_user

bp = Blueprint("subscriptions", __name__)

_COLUMNS = "id, user_id, plan_type, start_date, end_date"


@bp.get("/api/subscriptions")
def list_subscriptions() -> Response:
    """Return subscriptions, optionally only a user's (``?user_id=``), or one (``?id=``)."""
    return owned_rows("subscriptions", _COLUMNS, "subscription")


@bp.post("/api/subscriptions")
def create_subscription() -> tuple[Response, int]:
    """Store a subscription of a known user; it may not end before it starts."""
    body = jsonbody.json_object()
    user_id = jsonbody.integer(body, "user_id")
    plan_type = jsonbody.text(body, "plan_type", max_length=100)
    start_date = jsonbody.timestamp(body, "start_date")
    end_date = jsonbody.timestamp(body, "end_date")
    if end_date < start_date:
        raise ApiError(400, "field 'end_date' must not be before 'start_date'")
    with transaction() as conn:
        require_user(conn, user_id)
        subscription = conn.execute(
            "INSERT INTO subscriptions (user_id, plan_type, start_date, end_date) VALUES (%s, %s, %s, %s)"
            f" RETURNING {_COLUMNS}",
            (user_id, plan_type, start_date, end_date),
        ).fetchone()
    return jsonify(subscription), 201
