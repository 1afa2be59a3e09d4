"""The PostgreSQL connection pool of a service, one per process (psycopg 3), with bounded waits.

Every request's database work fits in ``DB_TIMEOUT_SECONDS``, whatever PostgreSQL does:

- waiting for a pooled connection is bounded by the pool's ``timeout``;
- the server itself ends a statement, an idle transaction and a whole transaction that
  outlive the budget (``statement_timeout``, ``idle_in_transaction_session_timeout``,
  ``transaction_timeout``), so a slow query or a lock wait ends with its own error;
- libpq's ``connect_timeout``, TCP keepalives and ``tcp_user_timeout`` drop a peer that
  went away;
- and a stopped server, which none of those notice, is cut by the client's own alarm
  (``cinema_common.watchdog``) ``CUT_GRACE_SECONDS`` after the deadline, so that a
  server that is alive answers first with its own timeout error.

While the database is known to be out of reach (no connection in time, or a connection
lost without an answer from the server), one request at a time tries it again, no sooner
than ``RETRY_AFTER_SECONDS`` after the last such failure, and the others get their 503 at
once: otherwise requests queued behind
the worker's threads would each wait out the budget after their turn came, and a burst
of them would outlast the bound many times over.

A request that cannot finish gets 503 when nothing was committed. The one case where the
outcome is unknown, a COMMIT sent whose answer never came, gets 504 saying so: a stopped
server that resumes reads a COMMIT already in its socket buffer and may apply it before
its timeouts act (tests/integration/test_stalled_database.py).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, Response, current_app, jsonify
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from cinema_common.dbconfig import DatabaseServiceConfig
from cinema_common.errors import ApiError
from cinema_common.queryparams import is_storable_id
from cinema_common.watchdog import WATCHDOG

log = logging.getLogger(__name__)
_EXTENSION = "cinemaabyss.db"
# What a database that is gone, slow or stopped raises: connection failures and cancelled
# statements are OperationalError; the server's transaction timeouts are classed InternalError.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.errors.TransactionTimeout,
                psycopg.errors.IdleInTransactionSessionTimeout)
UNAVAILABLE = "database unavailable"
# While the database is known out of reach, how long after a loss the next request may try it again.
RETRY_AFTER_SECONDS = 1.0
# How long after the budget the watchdog cuts a connection: a live server's own timeout comes first.
CUT_GRACE_SECONDS = 0.25
OUTCOME_UNKNOWN = ("database did not confirm the commit in time: the write may or may not have been stored;"
                   " read it back before retrying")


class DatabaseState:
    """What the last contact with PostgreSQL showed (True, False, or None before any), and who may try again."""

    def __init__(self) -> None:
        self.up: bool | None = None
        self._unreachable = False
        self._lost_at = -math.inf
        self._retry = threading.Lock()

    def saw(self, up: bool) -> None:
        """Record the outcome of a contact."""
        self.up = up
        if up:
            self._unreachable = False

    def lost(self) -> None:
        """Record that the server could not be reached at all (as opposed to an error it answered with)."""
        self.up, self._unreachable, self._lost_at = False, True, time.monotonic()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Let this request contact the database: always while it is not known out of reach, else one at a time.

        :raises ApiError: 503 at once while it is known out of reach, and either was lost
            less than ``RETRY_AFTER_SECONDS`` ago or another request is trying it.
        """
        if not self._unreachable:
            yield
            return
        if time.monotonic() - self._lost_at < RETRY_AFTER_SECONDS or not self._retry.acquire(blocking=False):
            raise ApiError(503, UNAVAILABLE)
        try:
            yield
        finally:
            self._retry.release()


def connection_kwargs(timeout: float, conninfo: str = "") -> dict:
    """Return the psycopg connection parameters that bound every wait by ``timeout`` seconds.

    ``options`` the connection string already has (``?options=-c search_path=x``) are kept, before ours.
    """
    millis = max(1, round(timeout * 1000))
    given = conninfo_to_dict(conninfo).get("options", "") if conninfo else ""
    return {
        "row_factory": dict_row,
        # libpq's connect_timeout is whole seconds, at least 2.
        "connect_timeout": max(2, math.ceil(timeout)),
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(timeout)),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": millis,
        "options": (f"{given} -c statement_timeout={millis} -c idle_in_transaction_session_timeout={millis}"
                    f" -c transaction_timeout={millis}").strip(),
    }


def init_app(app: Flask, config: DatabaseServiceConfig) -> ConnectionPool:
    """Attach a connection pool to ``app``; it connects in the background, so start-up never waits."""
    state = DatabaseState()
    pool = ConnectionPool(
        config.db_connection_string,
        min_size=1,
        max_size=config.db_pool_size,
        timeout=config.db_timeout_seconds,
        kwargs=connection_kwargs(config.db_timeout_seconds, config.db_connection_string),
        configure=lambda conn: state.saw(True),
        open=False,
        name=app.name,
    )
    pool.open(wait=False)
    app.extensions[_EXTENSION] = (pool, state, config.db_timeout_seconds)
    return pool


def pool_of(app: Flask) -> ConnectionPool:
    """Return the pool attached by ``init_app``."""
    return app.extensions[_EXTENSION][0]


def state_of(app: Flask) -> DatabaseState:
    """Return what the app last saw of its database."""
    return app.extensions[_EXTENSION][1]


@contextmanager
def transaction(*, read_only: bool = False) -> Iterator[psycopg.Connection]:
    """Yield a pooled connection inside a transaction that commits when the block ends.

    The whole of it, the wait for a connection included, ends by ``DB_TIMEOUT_SECONDS``.
    A ``read_only`` block is rolled back instead of committed: it wrote nothing, so no
    outcome can be in doubt.

    :raises ApiError: 503 when the database cannot be reached in time (nothing was
        committed); 504 when a COMMIT went out and its answer did not come in time.
    """
    pool, state, timeout = current_app.extensions[_EXTENSION]
    with state.turn(), _bounded(pool, state, timeout, read_only=read_only) as conn:
        yield conn


@contextmanager
def _bounded(pool: ConnectionPool, state: DatabaseState, timeout: float, *,
             read_only: bool) -> Iterator[psycopg.Connection]:
    deadline = time.monotonic() + timeout
    try:
        conn = pool.getconn(timeout=timeout)
    except PoolTimeout:
        state.lost()
        log.warning("no database connection within %.1f s", timeout)
        raise ApiError(503, UNAVAILABLE) from None
    alarm = WATCHDOG.arm(conn, deadline + CUT_GRACE_SECONDS)
    committing = False
    try:
        yield conn
        committing = not read_only
        if read_only:
            conn.rollback()
        else:
            conn.commit()
    except _UNAVAILABLE as error:
        state.saw(False)
        # A server's own error (a timeout, a shutdown) comes with an SQLSTATE and means it rolled
        # back; a COMMIT that lost its connection before an answer may have been applied.
        unknown = committing and error.sqlstate is None
        if error.sqlstate is None:
            state.lost()
        log.warning("database error%s: %s", " during COMMIT" if unknown else "", error)
        # Timed out or broken: a fresh connection costs less than finding out which.
        WATCHDOG.release(alarm)
        conn.close()
        raise ApiError(504 if unknown else 503, OUTCOME_UNKNOWN if unknown else UNAVAILABLE) from None
    except BaseException:
        if not conn.closed and not WATCHDOG.release(alarm):
            _roll_back(conn)
        raise
    else:
        state.saw(True)
    finally:
        if WATCHDOG.release(alarm):
            conn.close()  # cut by the alarm: the pool must not hand it out again
        pool.putconn(conn)


def _roll_back(conn: psycopg.Connection) -> None:
    try:
        conn.rollback()
    except _UNAVAILABLE as error:
        log.warning("rollback failed, discarding the connection: %s", error)
        conn.close()


def health() -> Response:
    """Liveness: 200 while the process runs, never waiting on PostgreSQL; ``database`` is the last state seen."""
    return jsonify(status=True, database=state_of(current_app).up)


def readiness() -> tuple[Response, int]:
    """Readiness: 200 when PostgreSQL answers ``SELECT 1`` within the timeout, else 503."""
    try:
        with transaction(read_only=True) as conn:
            conn.execute("SELECT 1")
    except ApiError:
        # A 503 is an error like any other: it names the problem in "error", beside the usual state.
        return jsonify(error=UNAVAILABLE, status=False, database=False), 503
    return jsonify(status=True, database=True), 200


def one_or_404(conn: psycopg.Connection, query: str, row_id: int, noun: str) -> dict:
    """Return the row that ``query`` finds for ``row_id``.

    :raises ApiError: 404 naming the ``noun`` when there is none.
    """
    row = conn.execute(query, (row_id,)).fetchone() if is_storable_id(row_id) else None
    if row is None:
        raise ApiError(404, f"{noun} {row_id} not found")
    return row
