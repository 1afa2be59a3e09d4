"""Users of the cinema."""

from __future__ import annotations

import psycopg
from flask import Blueprint, Response, jsonify

from cinema_common import jsonbody, names
from cinema_common.db import one_or_404, transaction
from cinema_common.errors import ApiError
from cinema_common.queryparams import Page

bp = Blueprint("users", __name__)

_COLUMNS = "id, username, email"
# The identity indexes, and the plain unique constraints of a database made before them.
_UNIQUE_FIELDS = {"users_username_identity_key": "username", "users_email_identity_key": "email",
                  "users_username_key": "username", "users_email_key": "email"}


@bp.get("/api/users")
def list_users() -> Response:
    """Return a page of users in id order (``?limit=``, ``?offset=``), or the one named by ``?id=``."""
    user_id = jsonbody.query_id("id")
    page = Page.from_request()
    with transaction(read_only=True) as conn:
        if user_id is not None:
            return jsonify(one_or_404(conn, f"SELECT {_COLUMNS} FROM users WHERE id = %s", user_id, "user"))
        rows = conn.execute(f"SELECT {_COLUMNS} FROM users ORDER BY id LIMIT %s OFFSET %s",
                            (page.fetch, page.offset)).fetchall()
    return page.respond(rows)


@bp.post("/api/users")
def create_user() -> tuple[Response, int]:
    """Store a user in NFKC form; a username or e-mail address taken in any case or width is a 409."""
    body = jsonbody.json_object()
    username = names.username(body)
    email = names.email_address(body)
    try:
        with transaction() as conn:
            user = conn.execute(
                "INSERT INTO users (username, email, username_key, email_key) VALUES (%s, %s, %s, %s)"
                f" RETURNING {_COLUMNS}",
                (username, email, names.identity_key(username), names.identity_key(email)),
            ).fetchone()
    except psycopg.errors.UniqueViolation as error:
        field = _UNIQUE_FIELDS.get(error.diag.constraint_name or "", "username or email")
        raise ApiError(409, f"{field} is already taken") from None
    return jsonify(user), 201
