"""A per-process alarm that cuts a database connection whose request ran out of time.

libpq waits for PostgreSQL's answer for as long as the socket stays open, and a
stopped server (SIGSTOP, a frozen VM) keeps it open: its kernel still acknowledges
every packet, so neither TCP keepalives nor ``tcp_user_timeout`` fire, and a cancel
request goes to the same stopped postmaster. The only bound the client controls is
its own socket: when a request's deadline passes, this thread shuts the connection's
socket down (``shutdown(2)`` on a duplicate of ``Connection.fileno()``), so the
waiting libpq call sees the connection end and psycopg raises ``OperationalError``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time

import psycopg

log = logging.getLogger(__name__)


class Alarm:
    """One armed deadline for one connection."""

    __slots__ = ("conn", "deadline", "fired", "released")

    def __init__(self, conn: psycopg.Connection, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.fired = False
        self.released = False


def sever(conn: psycopg.Connection) -> None:
    """Shut the connection's socket down in both directions, waking whoever waits on it."""
    try:
        duplicate = socket.socket(fileno=os.dup(conn.fileno()))
    except (psycopg.Error, OSError):
        return  # already closed: nobody is waiting on it
    with duplicate:
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        except OSError as error:
            log.debug("shutting down a timed-out database connection: %s", error)


class ConnectionWatchdog:
    """Cuts connections whose deadline passed; one daemon thread, started on first use."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._alarms: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, conn: psycopg.Connection, deadline: float) -> Alarm:
        """Cut ``conn`` at ``deadline`` (a ``time.monotonic()`` value) unless released before."""
        alarm = Alarm(conn, deadline)
        with self._cond:
            heapq.heappush(self._alarms, (deadline, next(self._order), alarm))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            elif self._alarms[0][2] is alarm:
                self._cond.notify()
        return alarm

    def release(self, alarm: Alarm) -> bool:
        """Disarm ``alarm``; return whether it had already fired (the connection is then cut)."""
        with self._cond:
            alarm.released = True
            return alarm.fired

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._alarms and self._alarms[0][2].released:
                    heapq.heappop(self._alarms)
                if not self._alarms:
                    self._cond.wait()
                    continue
                wait = self._alarms[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                alarm = heapq.heappop(self._alarms)[2]
                alarm.fired = True
                log.warning("database did not answer in time: cutting its connection")
                sever(alarm.conn)


WATCHDOG = ConnectionWatchdog()
