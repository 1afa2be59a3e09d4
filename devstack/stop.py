"""Stop the stack that ``make up`` started: its whole process group, gently first."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(pidfile: Path, grace: float = 20.0) -> str:
    """Send SIGTERM to the group led by the pid in ``pidfile``; SIGKILL what is left after ``grace``."""
    if not pidfile.exists():
        return "not running"
    pgid = int(pidfile.read_text().strip())
    if _group_alive(pgid):
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    pidfile.unlink()
    return "stopped"


if __name__ == "__main__":
    print(stop(Path(sys.argv[1])))
