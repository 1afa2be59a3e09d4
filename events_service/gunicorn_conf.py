"""Gunicorn settings of the events service; the Procfile and the Dockerfile both load this module.

One worker per replica: it runs the producer, the broker watch and the consumer threads,
so each replica is one member of the consumer group, and its recent events, health and
metrics are that one process's. Scale by replicas (at most a topic's partitions are
useful), not by workers: ``WEB_CONCURRENCY``, which sizes the other services, is not
read here; set to anything but 1, it gets a one-line warning at start.

gevent: a request spends its time waiting for the broker's ack, every connection gets a
greenlet of its own at once (no thread pool to queue behind while the broker stalls, so
each 503 keeps its bound), and it cost less CPU per event than gthread
(docs/decisions/0005-events-worker-class.md has the figures). kafka-python's threads and
sockets run on gevent's patched ones. ``GUNICORN_WORKER_CLASS=gthread`` works too.
"""

import os
import sys

from cinema_common.serving import gunicorn_settings
from events_service.config import Config

SERVICE = "events_service"
WORKER_CLASSES = ("gevent", "gthread")
_IGNORED = "WEB_CONCURRENCY"

if os.environ.get(_IGNORED, "1").strip() != "1":
    print(f"{SERVICE}: {_IGNORED}={os.environ[_IGNORED]!r} ignored: one worker per replica consumes and serves; "
          "run more replicas instead", file=sys.stderr)
_settings = gunicorn_settings(Config.from_env, SERVICE, workers=1, threads=16, worker_class="gevent",
                              environ={name: value for name, value in os.environ.items() if name != _IGNORED})
if _settings["worker_class"] not in WORKER_CLASSES:
    raise SystemExit(f"{SERVICE}: GUNICORN_WORKER_CLASS={_settings['worker_class']!r} is not supported: "
                     f"use one of {', '.join(WORKER_CLASSES)}")
globals().update(_settings)


def worker_exit(server, worker):
    """Stop the consumers and the producer when the worker exits (SIGTERM, SIGINT, max requests)."""
    from events_service.app import shutdown  # noqa: PLC0415 - imported in the worker, where the app lives

    app = getattr(worker, "wsgi", None)
    if app is not None:
        shutdown(app)
