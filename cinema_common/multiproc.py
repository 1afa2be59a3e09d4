"""Prometheus metrics of a service with several gunicorn workers, summed over the workers.

Under gunicorn each worker writes its samples to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode), a directory the
gunicorn master prepares, and ``/metrics`` adds them up, so a scrape sees the whole
service whichever worker answers it. Without that variable (tests, a single process)
the metrics live in a registry of their own.

The master loads this module before forking, and prometheus-client decides at its own
import whether it runs in multiprocess mode, from ``PROMETHEUS_MULTIPROC_DIR``; so
prometheus-client is imported here only inside the functions, which workers call after
that is set.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_dir(service: str, environ: MutableMapping[str, str] = os.environ) -> tuple[str, bool]:
    """Make the workers' metrics directory ready before they start: created, emptied of an earlier run's files.

    Uses ``PROMETHEUS_MULTIPROC_DIR`` when set, else a new temporary directory, which it
    exports for the workers. Sample files (``*.db``) are removed: those of an earlier run
    would otherwise be added to this one's. Returns the directory and whether this call
    created it.
    """
    path = environ.get(MULTIPROC_ENV, "").strip()
    if not path:
        path = tempfile.mkdtemp(prefix=f"{service}-{MULTIPROC_ENV.lower()}-")
        environ[MULTIPROC_ENV] = path
        return path, True
    os.makedirs(path, exist_ok=True)
    for old in glob.glob(os.path.join(path, "*.db")):
        os.remove(old)
    return path, False


def remove_dir(path: str) -> None:
    """Delete a directory that ``prepare_dir`` created."""
    shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges; its counters stay in the sums."""
    from prometheus_client import multiprocess  # noqa: PLC0415 - see the module docstring

    multiprocess.mark_process_dead(pid)


def own_registry() -> CollectorRegistry | None:
    """Return a fresh registry for a single process, or None in multiprocess mode, where samples go to files."""
    from prometheus_client import CollectorRegistry, values  # noqa: PLC0415 - see the module docstring

    # prometheus-client chose how to store values when it was imported: follow that choice.
    return None if getattr(values.ValueClass, "_multiprocess", False) else CollectorRegistry()


def exposition(registry: CollectorRegistry | None) -> tuple[bytes, str]:
    """Return ``registry`` (or, when None, every worker's samples) in the text format, with its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest  # noqa: PLC0415
    from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

    if registry is None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
