"""The events service under real gunicorn, with its own configuration module, on a free port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from devstack.net import free_port
from tests.events_service.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


class Service:
    """The events service under gunicorn, its log in a file."""

    def __init__(self, bootstrap: str, group: str, log: Path, **env: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = log
        # The master makes the directories its workers share; none are inherited from the test run.
        environ = {name: value for name, value in os.environ.items()
                   if name not in ("PROMETHEUS_MULTIPROC_DIR", "EVENTS_STATE_DIR", "WEB_CONCURRENCY")}
        environ.update(PORT=self.url.rsplit(":", 1)[1], BIND_HOST="127.0.0.1", KAFKA_BROKERS=bootstrap,
                       KAFKA_CONSUMER_GROUP=group, KAFKA_CHECK_INTERVAL_SECONDS="0.2", **env)
        with log.open("w") as sink:
            self.process = subprocess.Popen(
                [str(GUNICORN), "-c", "python:events_service.gunicorn_conf", "events_service.app:create_app()"],
                cwd=ROOT, env=environ, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_until(self._ready, 30, f"the service at {self.url}")
        except BaseException:
            self.kill()
            raise

    def _ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return requests.get(f"{self.url}/api/events/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> int:
        """Send SIGTERM and return the exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """Stop the service at once, whatever it is doing."""
        self.process.kill()
        self.process.wait()

    def consumed(self) -> list[str]:
        """Return the event ids of every 'event consumed' line so far."""
        lines = (json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{"))
        return [line["event_id"] for line in lines if line.get("message") == "event consumed"]
