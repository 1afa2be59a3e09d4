"""The watchdog cuts a connection whose deadline passed, and only that one."""

from __future__ import annotations

import socket
import time

from cinema_common.watchdog import ConnectionWatchdog


class _Connection:
    """What the watchdog uses of a psycopg connection: its socket's file descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()


def test_a_passed_deadline_shuts_the_socket_and_wakes_the_reader():
    watchdog = ConnectionWatchdog()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        alarm = watchdog.arm(_Connection(ours), time.monotonic() + 0.2)
        started = time.monotonic()
        ours.settimeout(5)
        assert ours.recv(1) == b""  # woken by the shutdown, not by data
        assert 0.15 < time.monotonic() - started < 2
        assert watchdog.release(alarm) is True


def test_a_released_alarm_never_fires():
    watchdog = ConnectionWatchdog()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        alarm = watchdog.arm(_Connection(ours), time.monotonic() + 0.1)
        assert watchdog.release(alarm) is False
        time.sleep(0.3)
        theirs.sendall(b"x")
        ours.settimeout(1)
        assert ours.recv(1) == b"x"  # still open: the released alarm cut nothing
        assert alarm.fired is False


def test_alarms_fire_in_deadline_order_whatever_order_they_were_armed_in():
    watchdog = ConnectionWatchdog()
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        now = time.monotonic()
        delays = (0.6, 0.2, 5.0)
        alarms = [watchdog.arm(_Connection(pair[0]), now + delay) for pair, delay in zip(pairs, delays, strict=True)]
        time.sleep(0.4)
        assert [alarm.fired for alarm in alarms] == [False, True, False]
        time.sleep(0.4)
        assert [alarm.fired for alarm in alarms] == [True, True, False]
        assert watchdog.release(alarms[2]) is False
    finally:
        for pair in pairs:
            for sock in pair:
                sock.close()
