"""The events service under real gunicorn, with its own configuration module, on a free port."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from devstack.server import GunicornServer
from tests.events_service.conftest import wait_until


class Service(GunicornServer):
    """The events service under gunicorn with its own settings (one worker), ready to publish."""

    def __init__(self, bootstrap: str, group: str, log: Path, **env: str) -> None:
        super().__init__("events_service.gunicorn_conf", "events_service.app:create_app()", {
            "KAFKA_BROKERS": bootstrap, "KAFKA_CONSUMER_GROUP": group,
            "KAFKA_CHECK_INTERVAL_SECONDS": "0.2", **env}, log)
        try:
            wait_until(self._ready, 30, f"the service at {self.url}")
        except BaseException:
            self.kill()
            raise

    def _ready(self) -> bool:
        assert self.process.poll() is None, self.log()
        try:
            return requests.get(f"{self.url}/api/events/ready", timeout=1).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False  # not listening yet, or the connection waits in the backlog while the worker boots

    def evidence(self) -> str:
        """Return what explains a wait that timed out: the health answer and the log without its per-event lines."""
        try:
            health = requests.get(f"{self.url}/api/events/health", timeout=2).text
        except requests.RequestException as error:
            health = f"no health answer: {error}"
        lines = [line for line in self.log().splitlines()
                 if '"event consumed"' not in line and '"POST /api/events/' not in line]
        return f"health: {health}\nlog, without the per-event lines:\n" + "\n".join(lines[-60:])

    def consumed(self) -> list[str]:
        """Return the event ids of every 'event consumed' line so far."""
        text = self.log()
        complete = text[:text.rfind("\n") + 1]  # the last line may be half written
        lines = (json.loads(line) for line in complete.splitlines() if line.startswith("{"))
        return [line["event_id"] for line in lines if line.get("message") == "event consumed"]
