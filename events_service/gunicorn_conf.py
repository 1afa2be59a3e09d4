"""Gunicorn settings of the events service; the Procfile and the Dockerfile both load this module.

Two gevent workers by default. Every worker publishes, with a producer of its own; one
worker of the replica, the one holding the consumer lease (events_service/lease.py), runs
the consumers, so each replica is one member of the consumer group. What a user reads
from whichever worker answers is the replica's: the recent events and the consumers'
state are in a SQLite file in ``EVENTS_STATE_DIR`` (events_service/shared.py), and
``/metrics`` sums the workers' samples in ``PROMETHEUS_MULTIPROC_DIR``. The master
prepares both directories.

gevent because a request spends its time waiting for the broker's ack, and greenlets wait
far more cheaply than threads (one gevent worker served 1.7 times the events per second of
one gthread worker; see the README); kafka-python runs on gevent's patched threads and sockets. gthread
and sync work too (``GUNICORN_THREADS``, default 16); any other worker class stops the
service with a one-line message.
"""

import os
from pathlib import Path

from cinema_common import multiproc
from cinema_common.serving import gunicorn_settings
from events_service.config import Config
from events_service.shared import forget_worker, prepare

SERVICE = "events_service"
STATE_ENV = "EVENTS_STATE_DIR"
WORKER_CLASSES = ("gevent", "gthread", "sync")

_settings = gunicorn_settings(Config.from_env, SERVICE, workers=2, threads=16, worker_class="gevent")
if _settings["worker_class"] not in WORKER_CLASSES:
    raise SystemExit(f"{SERVICE}: GUNICORN_WORKER_CLASS={_settings['worker_class']!r} is not supported: "
                     f"use one of {', '.join(WORKER_CLASSES)}")
globals().update(_settings)
_created_dirs: list[str] = []


def on_starting(server):
    """Prepare the shared directories and the state database in the master, before any worker starts."""
    for path, created in (multiproc.prepare_dir(SERVICE),
                          multiproc.prepare_dir(SERVICE, variable=STATE_ENV, stale="events.sqlite3*")):
        if created:
            _created_dirs.append(path)
    # Made once here, so that the workers, which start together, do not race to make it.
    prepare(Path(os.environ[STATE_ENV]))


def child_exit(server, worker):
    """Forget a worker that exited: its live gauges and the consumer states it reported."""
    multiproc.worker_exited(worker.pid)
    forget_worker(Path(os.environ[STATE_ENV]), worker.pid)


def post_worker_init(worker):
    """Let the worker's app take over the consumers only while the worker is not stopping."""
    from events_service.app import serving_while  # noqa: PLC0415 - imported in the worker, where the app lives

    serving_while(worker.wsgi, lambda: worker.alive)


def worker_exit(server, worker):
    """Stop the consumers and the producer when the worker exits (SIGTERM, SIGINT, max requests)."""
    from events_service.app import shutdown  # noqa: PLC0415 - imported in the worker, where the app lives

    app = getattr(worker, "wsgi", None)
    if app is not None:
        shutdown(app)


def on_exit(server):
    """Remove the directories made at start."""
    for path in _created_dirs:
        multiproc.remove_dir(path)
