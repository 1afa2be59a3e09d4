"""The directory where gunicorn workers keep their metric samples, managed by the gunicorn master.

This module must not import prometheus-client at import time: the master loads it before
forking, and prometheus-client decides at its own import whether it runs in multiprocess
mode, from ``PROMETHEUS_MULTIPROC_DIR``. Workers must import it only after that is set.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import MutableMapping

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_dir(environ: MutableMapping[str, str] = os.environ) -> tuple[str, bool]:
    """Make the metrics directory ready before workers start: created, emptied of old samples.

    Uses ``PROMETHEUS_MULTIPROC_DIR`` when set, else a new temporary directory, which it
    exports for the workers. Returns the directory and whether this call created it.
    """
    path = environ.get(MULTIPROC_ENV, "").strip()
    if not path:
        path = tempfile.mkdtemp(prefix="proxy_service-metrics-")
        environ[MULTIPROC_ENV] = path
        return path, True
    os.makedirs(path, exist_ok=True)
    # Samples of an earlier run would otherwise be added to this one's.
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    return path, False


def remove_dir(path: str) -> None:
    """Delete a metrics directory that ``prepare_dir`` created."""
    shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges; its counters stay in the sums."""
    from prometheus_client import multiprocess  # noqa: PLC0415 - see the module docstring

    multiprocess.mark_process_dead(pid)
