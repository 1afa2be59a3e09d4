"""Gunicorn settings of the gateway; the Procfile and the Dockerfile both load this module.

gevent workers by default: a proxy spends its time waiting on backends and on clients, and
a waiting greenlet costs kilobytes where a thread costs a worker slot. Slow clients are
held here, never by a backend (docs/decisions/0002-gevent-for-edge-facing-services.md).
"""

from cinema_common import multiproc
from cinema_common.serving import gunicorn_settings, load_or_exit
from proxy_service import worker_files
from proxy_service.config import Config

_settings = gunicorn_settings(Config.from_env, "proxy_service", workers=2, worker_class="gevent")
# The same workers serve the admin port; the app tells the two apart by the port of the listener.
_admin_port = load_or_exit(Config.from_env, "proxy_service").admin_port
_settings["bind"] = [_settings["bind"], f"{_settings['bind'].rpartition(':')[0]}:{_admin_port}"]
globals().update(_settings)
# The gateway writes its own JSON access line, with route, upstream and fallback.
accesslog = None
_created_dirs: list[str] = []


def on_starting(server):
    """Prepare the metrics directory in the master, before any worker imports prometheus-client."""
    path, created = multiproc.prepare_dir("proxy_service")
    if created:
        _created_dirs.append(path)
    # A guard trip or shadow mismatches of an earlier run are not this run's.
    worker_files.remove_folder()


def child_exit(server, worker):
    """Forget the live gauges of a worker that exited."""
    multiproc.worker_exited(worker.pid)


def on_exit(server):
    """Remove the metrics directory if it was a temporary one made at start."""
    for path in _created_dirs:
        multiproc.remove_dir(path)
