"""SIGTERM under real gunicorn: the worker stops its consumers cleanly, so no event is lost or logged twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import requests

from devstack.net import free_port
from tests.events_service.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


class Service:
    """The events service under gunicorn, its log in a file."""

    def __init__(self, bootstrap: str, group: str, log: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = log
        environ = {**os.environ, "PORT": self.url.rsplit(":", 1)[1], "BIND_HOST": "127.0.0.1",
                   "KAFKA_BROKERS": bootstrap, "KAFKA_CONSUMER_GROUP": group, "KAFKA_CHECK_INTERVAL_SECONDS": "0.2"}
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


def test_sigterm_loses_nothing_and_logs_nothing_twice(broker, tmp_path):
    group = f"events-sigterm-{os.getpid()}"
    first = Service(broker.bootstrap, group, tmp_path / "first.log")
    acknowledged: list[str] = []
    stop_posting = threading.Event()

    def post() -> None:
        with requests.Session() as session:
            for number in range(1, 100_000):
                if stop_posting.is_set():
                    return
                try:
                    response = session.post(f"{first.url}/api/events/user", timeout=10, json={
                        "user_id": number, "action": "watched", "timestamp": "2024-05-01T10:00:00Z"})
                except requests.ConnectionError:
                    return
                if response.status_code == 201:
                    acknowledged.append(response.json()["event"]["id"])

    posters = [threading.Thread(target=post) for _ in range(4)]
    try:
        for poster in posters:
            poster.start()
        wait_until(lambda: len(first.consumed()) >= 200, 30, "the first instance to consume 200 events")
    finally:
        # Stopped while it publishes and consumes: the worker drains requests, commits, leaves the group.
        exit_code = first.stop()
        stop_posting.set()
        for poster in posters:
            poster.join(15)
    assert exit_code == 0, first.log.read_text()[-2000:]
    log = first.log.read_text()
    assert '"message": "consumer stopped"' in log
    assert '"message": "events service stopped"' in log

    second = Service(broker.bootstrap, group, tmp_path / "second.log")
    try:
        wait_until(lambda: set(acknowledged) <= set(first.consumed()) | set(second.consumed()), 30,
                   "every acknowledged event to be consumed by one instance or the other")
    finally:
        assert second.stop() == 0
    counts = Counter(first.consumed() + second.consumed())
    assert len(acknowledged) >= 200
    assert [event_id for event_id in acknowledged if counts[event_id] != 1] == []
