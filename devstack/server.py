"""A service under real gunicorn in a child process, on a free loopback port: what the bench and the tests start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from devstack.net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
# Each gunicorn master makes the directories its workers share; none is inherited from the caller.
SHARED_DIRS = ("PROMETHEUS_MULTIPROC_DIR",)


class GunicornServer:
    """``gunicorn -c python:<config> <app>`` in a session of its own, its output in ``log_path``.

    :raises RuntimeError: with the end of the log, when nothing listens on the port within 30 s.
    """

    def __init__(self, config: str, app: str, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        environ = {key: value for key, value in os.environ.items() if key not in SHARED_DIRS}
        environ.update(env, PORT=str(self.port), BIND_HOST="127.0.0.1", PYTHONPATH=str(ROOT))
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", f"python:{config}", app],
                cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_port(self.port, timeout=30)
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"{app} did not start; its log:\n{self.log()[-3000:]}") from None

    def log(self) -> str:
        """Return everything the server wrote so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, signal_number: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``signal_number`` to the master, as an orchestrator does; return its exit code.

        The master passes the stop on to its workers. After ``timeout`` seconds the whole
        group is killed instead (exit code -9).
        """
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """Kill the master and its workers at once."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
