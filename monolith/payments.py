"""Payments made by users; the server stamps the time."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from cinema_common import jsonbody
from cinema_common.db import transaction
from monolith.ownership import owned_rows, require_user

bp = Blueprint("payments", __name__)

_COLUMNS = "id, user_id, amount, timestamp"
MAX_AMOUNT = 9_999_999_999.99  # numeric(12, 2)
# Amounts are stored in cents: anything smaller would be stored as a payment of 0.
MIN_AMOUNT = 0.01


@bp.get("/api/payments")
def list_payments() -> Response:
    """Return payments, optionally only a user's (``?user_id=``), or one (``?id=``)."""
    return owned_rows("payments", _COLUMNS, "payment")


@bp.post("/api/payments")
def create_payment() -> tuple[Response, int]:
    """Store a payment of a known user."""
    body = jsonbody.json_object()
    user_id = jsonbody.integer(body, "user_id")
    amount = jsonbody.number(body, "amount", minimum=MIN_AMOUNT, maximum=MAX_AMOUNT)
    with transaction() as conn:
        require_user(conn, user_id)
        payment = conn.execute(
            f"INSERT INTO payments (user_id, amount) VALUES (%s, round(%s::numeric, 2)) RETURNING {_COLUMNS}",
            (user_id, amount),
        ).fetchone()
    return jsonify(payment), 201
