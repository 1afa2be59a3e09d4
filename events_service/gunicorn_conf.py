"""Gunicorn settings of the events service; the Procfile and the Dockerfile both load this module.

Exactly one worker process, with threads: the Kafka consumers run inside the worker, so
one worker means one consumer set, one recent-events buffer and one metrics registry per
replica. Scale by running more replicas; they share the consumer group, which splits
the partitions between them. ``WEB_CONCURRENCY`` other than 1 (or ``-w`` on the command
line) stops the service with a one-line message instead of being silently ignored.
"""

from cinema_common.serving import gunicorn_settings
from events_service.config import Config

SERVICE = "events_service"
ONE_WORKER = (f"{SERVICE}: exactly one gunicorn worker per process is supported (its Kafka consumers run "
              "inside it); got {workers}. Use GUNICORN_THREADS for concurrency and more replicas to scale.")
THREADED_WORKERS = ("gthread", "sync")

_settings = gunicorn_settings(Config.from_env, SERVICE, workers=1, threads=16)
if _settings["workers"] != 1:
    raise SystemExit(ONE_WORKER.format(workers=f"WEB_CONCURRENCY={_settings['workers']}"))
if _settings["worker_class"] not in THREADED_WORKERS:
    raise SystemExit(f"{SERVICE}: GUNICORN_WORKER_CLASS={_settings['worker_class']!r} is not supported: "
                     "the Kafka clients need real threads (gthread or sync)")
globals().update(_settings)


def on_starting(server):
    """Refuse a worker count given on the command line, which overrides this file."""
    if server.cfg.workers != 1:
        raise SystemExit(ONE_WORKER.format(workers=f"{server.cfg.workers} workers"))


def worker_exit(server, worker):
    """Stop the consumers and the producer when the worker exits (SIGTERM, SIGINT, max requests)."""
    from events_service.app import shutdown  # noqa: PLC0415 - imported in the worker, where the app lives

    app = getattr(worker, "wsgi", None)
    if app is not None:
        shutdown(app)
