"""The PostgreSQL connection pool of a service, one per process (psycopg 3)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, Response, current_app, jsonify
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from cinema_common.dbconfig import DatabaseServiceConfig
from cinema_common.errors import ApiError
from cinema_common.jsonbody import is_storable_id

log = logging.getLogger(__name__)
_EXTENSION = "cinemaabyss.db"


def init_app(app: Flask, config: DatabaseServiceConfig) -> ConnectionPool:
    """Attach a connection pool to ``app``; it connects in the background, so start-up never waits."""
    timeout = config.db_timeout_seconds
    pool = ConnectionPool(
        config.db_connection_string,
        min_size=1,
        max_size=config.db_pool_size,
        timeout=timeout,
        kwargs={"row_factory": dict_row, "connect_timeout": max(1, round(timeout))},
        open=False,
        name=app.name,
    )
    pool.open(wait=False)
    app.extensions[_EXTENSION] = pool
    return pool


def pool_of(app: Flask) -> ConnectionPool:
    """Return the pool attached by ``init_app``."""
    return app.extensions[_EXTENSION]


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """Yield a pooled connection inside a transaction that commits when the block ends.

    :raises ApiError: 503 when the database cannot be reached in time.
    """
    try:
        with pool_of(current_app).connection() as conn:
            yield conn
    except PoolTimeout:
        log.warning("no database connection within the pool timeout")
        raise ApiError(503, "database unavailable") from None
    except psycopg.OperationalError as error:
        log.warning("database error: %s", error)
        raise ApiError(503, "database unavailable") from None


def _database_answers() -> bool:
    try:
        with transaction() as conn:
            conn.execute("SELECT 1")
    except ApiError:
        return False
    return True


def health() -> Response:
    """Liveness: 200 while the process runs; ``database`` tells whether PostgreSQL answers."""
    return jsonify(status=True, database=_database_answers())


def readiness() -> tuple[Response, int]:
    """Readiness: 200 when PostgreSQL answers, else 503, so traffic waits for the database."""
    if _database_answers():
        return jsonify(status=True, database=True), 200
    # A 503 is an error like any other: it names the problem in "error", beside the usual state.
    return jsonify(error="database unavailable", status=False, database=False), 503


def one_or_404(conn: psycopg.Connection, query: str, row_id: int, noun: str) -> dict:
    """Return the row that ``query`` finds for ``row_id``.

    :raises ApiError: 404 naming the ``noun`` when there is none.
    """
    row = conn.execute(query, (row_id,)).fetchone() if is_storable_id(row_id) else None
    if row is None:
        raise ApiError(404, f"{noun} {row_id} not found")
    return row
