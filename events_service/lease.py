"""Which worker of a replica runs the consumers: the one holding a lock on a file in ``EVENTS_STATE_DIR``.

Every worker publishes; one consumes. Each replica is then one member of the consumer
group, however many workers it runs, so the workers of one replica never rebalance
against each other when they start or stop together. (On Tansu, a group whose members
left while it was rebalancing stays stuck: the next member joins and never gets its
assignment.) The lock is the kernel's (``flock``) and goes with the process: when the
owner dies, another worker takes over within ``interval`` seconds.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from events_service.background import BackgroundThread

log = logging.getLogger(__name__)
FILE_NAME = "consumers.lock"


class _Startable(Protocol):
    def start(self) -> None: ...


class ConsumerLease(BackgroundThread):
    """Tries to take the replica's consumer lock every ``interval`` seconds; once it has it, starts the consumers.

    It tries only while ``may_take()`` is true (always, unless set otherwise).
    """

    def __init__(self, directory: Path, consumers: Sequence[_Startable], interval: float = 1.0) -> None:
        super().__init__("events-consumer-lease")
        self.path = directory / FILE_NAME
        self.may_take: Callable[[], bool] = lambda: True
        self._consumers = consumers
        self._interval = interval
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Tell whether this process runs the replica's consumers."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (after the consumers stopped), so another worker can take over at once."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _run(self) -> None:
        if not self._consumers:
            return  # CONSUME_EVENTS=false: nothing to run, no lock to hold
        while not self._stop.is_set():
            if self.may_take() and self._take():
                log.info("this worker runs the replica's consumers", extra={"consumers": len(self._consumers)})
                for consumer in self._consumers:
                    consumer.start()
                return
            self._stop.wait(self._interval)

    def _take(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True
