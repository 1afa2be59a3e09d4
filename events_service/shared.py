"""What the workers of one events service share: the recently consumed events and every consumer's state.

gunicorn runs several workers (see gunicorn_conf.py), each with its own consumers, and the
group gives each consumer other partitions. A request for ``/api/events/recent`` or
``/api/events/health`` reaches whichever worker accepted the connection, so both answers
come from one SQLite file in ``EVENTS_STATE_DIR`` that every worker of the replica writes
and reads. The gunicorn master makes that directory; an app built outside gunicorn makes
a private one. Nothing in it outlives the replica: it is a view, Kafka keeps the events.

SQLite in WAL mode lets readers work while a consumer writes; a consumer writes each
batch in one transaction: on the development machine 25 µs for a batch of one event,
6 to 9 µs an event in batches of 10 to 100.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from events_service.background import BackgroundThread

log = logging.getLogger(__name__)
_EXTENSION = "events.shared"
FILE_NAME = "events.sqlite3"
# How long a worker waits for another's write to finish before giving up on a statement.
_BUSY_SECONDS = 5.0
# Made in one transaction: a worker that finds the file sees both tables or neither.
_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS recent (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consumers (
    pid INTEGER NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL, reported REAL NOT NULL,
    PRIMARY KEY (pid, name)
);
COMMIT;
"""
_FORGET = "DELETE FROM consumers WHERE pid = ?"


class SharedState:
    """The replica's recent events (the last ``capacity``) and its workers' consumer states.

    One connection per process, used under a lock: requests read rarely and consumers write
    whole batches, so the lock is hardly ever contended.
    """

    def __init__(self, directory: Path, capacity: int) -> None:
        self.capacity = capacity
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        prepare(directory)
        self._db = sqlite3.connect(self.path, timeout=_BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        # The file is a view that dies with the replica: no fsync.
        self._db.execute("PRAGMA synchronous=OFF")

    def add(self, entries: Iterable[dict[str, Any]]) -> None:
        """Remember consumed events, oldest first, forgetting the oldest beyond the capacity."""
        rows = [(json.dumps(entry, separators=(",", ":")),) for entry in entries]
        if not rows:
            return
        with self._transaction():
            self._db.executemany("INSERT INTO recent (entry) VALUES (?)", rows)
            self._db.execute("DELETE FROM recent WHERE seq <= (SELECT max(seq) FROM recent) - ?", (self.capacity,))

    def latest(self, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` events, newest first, whichever worker consumed them."""
        with self._lock:
            rows = self._db.execute("SELECT entry FROM recent ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [json.loads(entry) for (entry,) in rows]

    def report(self, pid: int, consumers: list[dict[str, Any]]) -> None:
        """Replace what worker ``pid`` said of its consumers (each a dict with a ``name``)."""
        now = time.time()
        rows = [(pid, consumer["name"], json.dumps(consumer), now) for consumer in consumers]
        with self._transaction():
            self._db.execute(_FORGET, (pid,))
            self._db.executemany("INSERT INTO consumers VALUES (?, ?, ?, ?)", rows)

    def consumers(self, *, besides: int) -> list[dict[str, Any]]:
        """Return the consumers the other live workers reported, each with its ``worker`` and report age."""
        with self._lock:
            rows = self._db.execute("SELECT pid, state, reported FROM consumers WHERE pid != ? ORDER BY pid, name",
                                    (besides,)).fetchall()
        now = time.time()
        return [{**json.loads(state), "worker": pid, "reported_seconds_ago": round(max(0.0, now - reported), 3)}
                for pid, state, reported in rows if _running(pid)]

    def forget(self, pid: int) -> None:
        """Drop what worker ``pid`` reported: it has stopped."""
        with self._lock:
            self._db.execute(_FORGET, (pid,))

    def close(self) -> None:
        """Close this process's connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Run the block's statements as one transaction: other workers see all of them or none."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def prepare(directory: Path) -> None:
    """Make the replica's database in ``directory``, in WAL mode and with its tables, unless it is made already.

    The gunicorn master calls this before it starts workers, and every worker calls it
    again, which changes nothing when the file is ready. Workers that race to make it anyway
    (the app run without gunicorn_conf.py) wait for each other: SQLite refuses the switch to
    WAL at once, without waiting, while another connection holds the file.

    :raises sqlite3.OperationalError: when the file stays locked for ``_BUSY_SECONDS``.
    """
    deadline = time.monotonic() + _BUSY_SECONDS
    while True:
        try:
            with closing(sqlite3.connect(directory / FILE_NAME, timeout=_BUSY_SECONDS, isolation_level=None)) as db:
                # WAL lets readers work while a consumer writes; the mode stays with the file.
                if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def forget_worker(directory: Path, pid: int) -> None:
    """Drop what a worker that exited reported; the gunicorn master, which made the file, calls this."""
    try:
        with closing(sqlite3.connect(directory / FILE_NAME, timeout=_BUSY_SECONDS, isolation_level=None)) as db:
            db.execute(_FORGET, (pid,))
    except sqlite3.Error as error:
        # Harmless: readers skip the rows of a process that is gone.
        log.warning("could not forget an exited worker's consumers", extra={"worker": pid, "detail": str(error)})


def _running(pid: int) -> bool:
    """Tell whether process ``pid`` exists: rows of a worker that died unforgotten are skipped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Reporter(BackgroundThread):
    """A thread that calls ``report`` every ``interval`` seconds until stopped."""

    def __init__(self, report: Callable[[], None], interval: float) -> None:
        super().__init__("events-reporter")
        self._report = report
        self._interval = interval

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._report()
            except Exception:
                # What other workers show would go stale, not wrong; say so and try again at the next tick.
                log.exception("could not report the consumers' state")


def init_app(app: Flask) -> SharedState:
    """Attach the replica's shared state to ``app``, in ``EVENTS_STATE_DIR`` or else a private directory."""
    config = app.config["SETTINGS"]
    private = not config.state_dir
    directory = Path(tempfile.mkdtemp(prefix="events_service-state-") if private else config.state_dir)
    shared = SharedState(directory, config.recent_events)
    app.extensions[_EXTENSION] = (shared, private)
    return shared


def shared_of(app: Flask) -> SharedState:
    """Return the shared state attached by ``init_app``."""
    return app.extensions[_EXTENSION][0]


def close(app: Flask) -> None:
    """Forget this worker's consumers and close; a private directory is removed."""
    shared, private = app.extensions[_EXTENSION]
    try:
        shared.forget(os.getpid())
    except sqlite3.Error as error:
        # Harmless: readers skip the rows of a process that is gone, and the gunicorn master drops them.
        log.warning("could not forget this worker's consumers", extra={"detail": str(error)})
    shared.close()
    if private:
        shutil.rmtree(shared.path.parent, ignore_errors=True)
