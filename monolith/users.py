"""Users of the cinema."""

from __future__ import annotations

import psycopg
from flask import Blueprint, Response, jsonify

from cinema_common import jsonbody
from cinema_common.db import one_or_404, transaction
from cinema_common.errors import ApiError

bp = Blueprint("users", __name__)

_COLUMNS = "id, username, email"
_UNIQUE_FIELDS = {"users_username_key": "username", "users_email_key": "email"}


@bp.get("/api/users")
def list_users() -> Response:
    """Return every user, or the one named by ``?id=``."""
    user_id = jsonbody.query_id("id")
    with transaction() as conn:
        if user_id is not None:
            return jsonify(one_or_404(conn, f"SELECT {_COLUMNS} FROM users WHERE id = %s", user_id, "user"))
        return jsonify(conn.execute(f"SELECT {_COLUMNS} FROM users ORDER BY id").fetchall())


@bp.post("/api/users")
def create_user() -> tuple[Response, int]:
    """Store a user; a username or e-mail address that is taken is a 409."""
    body = jsonbody.json_object()
    username = jsonbody.text(body, "username", max_length=100)
    email = jsonbody.email(body, "email")
    try:
        with transaction() as conn:
            user = conn.execute(
                f"INSERT INTO users (username, email) VALUES (%s, %s) RETURNING {_COLUMNS}",
                (username, email),
            ).fetchone()
    except psycopg.errors.UniqueViolation as error:
        field = _UNIQUE_FIELDS.get(error.diag.constraint_name or "", "username or email")
        raise ApiError(409, f"{field} is already taken") from None
    return jsonify(user), 201
