"""Rows that belong to a user: payments and subscriptions are listed and checked alike."""

from __future__ import annotations

import psycopg
from flask import Response, jsonify

from cinema_common import jsonbody
from cinema_common.db import one_or_404, transaction
from cinema_common.errors import ApiError
from cinema_common.queryparams import Page


def owned_rows(table: str, columns: str, noun: str) -> Response:
    """Answer a GET on a user-owned table: ``?id=`` for one row, else a page, ``?user_id=`` to filter."""
    row_id = jsonbody.query_id("id")
    user_id = jsonbody.query_id("user_id")
    page = Page.from_request()
    with transaction(read_only=True) as conn:
        if row_id is not None:
            return jsonify(one_or_404(conn, f"SELECT {columns} FROM {table} WHERE id = %s", row_id, noun))
        if user_id is not None:
            if not jsonbody.is_storable_id(user_id):
                return jsonify([])
            rows = conn.execute(
                f"SELECT {columns} FROM {table} WHERE user_id = %s ORDER BY id LIMIT %s OFFSET %s",
                (user_id, page.fetch, page.offset),
            ).fetchall()
        else:
            rows = conn.execute(f"SELECT {columns} FROM {table} ORDER BY id LIMIT %s OFFSET %s",
                                (page.fetch, page.offset)).fetchall()
    return page.respond(rows)


def require_user(conn: psycopg.Connection, user_id: int) -> None:
    """Lock the user's row for this transaction so it cannot vanish under a new child row.

    :raises ApiError: 404 when there is no such user.
    """
    if conn.execute("SELECT 1 FROM users WHERE id = %s FOR KEY SHARE", (user_id,)).fetchone() is None:
        raise ApiError(404, f"user {user_id} not found")
