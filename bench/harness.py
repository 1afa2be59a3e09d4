"""The benchmark's machinery: gunicorn servers on free loopback ports, wrk runs, interleaved rounds.

Servers run under the gateway's own gunicorn settings (``proxy_service.gunicorn_conf``:
workers, worker class and threads from ``WEB_CONCURRENCY``, ``GUNICORN_WORKER_CLASS``,
``GUNICORN_THREADS``), so the comparison is between apps, not server settings; a service
with settings of its own (the events service) is started with its own module. The load
comes from ``wrk`` in its own process. The machine is shared and noisy, so targets are
measured in interleaved rounds and ratios are taken within a round, side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devstack.net import free_port
from devstack.server import GunicornServer

_REPORT_LUA = (Path(__file__).parent / "report.lua").read_text()
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GATEWAY_CONFIG = "proxy_service.gunicorn_conf"


class Server(GunicornServer):
    """One gunicorn server on a free loopback port, started with a gunicorn configuration module."""

    def __init__(self, name: str, app: str, env: dict[str, str], log_dir: Path, config: str = GATEWAY_CONFIG) -> None:
        self.name = name
        if config == GATEWAY_CONFIG:
            # The gateway's settings also bind an admin port; each server gets a free one, not 9000.
            env = {"ADMIN_PORT": str(free_port()), **env}
        try:
            super().__init__(config, app, env, log_dir / f"{name}.log")
        except RuntimeError as error:
            raise SystemExit(f"{name}: {error}") from None

    def get(self, path: str) -> int:
        """Send one GET and return the status, to check the server answers before measuring it."""
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.status

    def cpu_seconds(self) -> float:
        """Return the CPU time used so far by the gunicorn master and its workers."""
        total = 0.0
        pending = [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            pending.extend(int(child) for child in children)
        return total

    def stop(self) -> int:
        """Stop the master and its workers."""
        return super().stop(timeout=15)


@dataclass(frozen=True)
class Target:
    """What to load: ``server`` at ``path``; ``cpu_of`` names every server whose CPU a request costs."""

    label: str
    server: Server
    path: str = "/"
    method: str = "GET"
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cpu_of: tuple[Server, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One wrk run: requests per second, latency percentiles in ms, errors, and server CPU per request."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    cpu_us: float
    cpu_us_by_server: tuple[float, ...] = ()


@dataclass
class Series:
    """The samples of one target over the rounds; figures are medians."""

    target: Target
    samples: list[Sample] = field(default_factory=list)

    def median(self, name: str) -> float:
        """Return the median of a Sample field over the rounds."""
        return statistics.median(getattr(sample, name) for sample in self.samples)

    @property
    def failures(self) -> int:
        """Return the socket errors and non-2xx answers summed over the rounds."""
        return sum(sample.errors + sample.non_2xx for sample in self.samples)


@dataclass(frozen=True)
class Settings:
    """How hard and how long to load each target."""

    connections: int = 16
    seconds: float = 3.0
    rounds: int = 5
    warmup_seconds: float = 0.5


class Bench:
    """Starts servers and measures targets; sections get one, with the ceiling already running."""

    def __init__(self, settings: Settings) -> None:
        if shutil.which("wrk") is None:
            raise SystemExit("wrk is not installed: `apt-get install wrk` (make bench does it on Debian)")
        self.settings = settings
        self.log_dir = Path(tempfile.mkdtemp(prefix="cinemaabyss-bench-"))
        self.servers: list[Server] = []
        self.ceiling = self.start("ceiling", "bench.apps:ceiling_app()")

    def start(self, name: str, app: str, env: dict[str, str] | None = None, *, config: str = GATEWAY_CONFIG) -> Server:
        """Start ``app`` (a gunicorn app spec) with ``config`` (the gateway's settings by default); stopped on close."""
        server = Server(name, app, env or {}, self.log_dir, config)
        self.servers.append(server)
        return server

    def compare(self, targets: Sequence[Target], *, connections: int | None = None) -> list[Series]:
        """Measure ``targets`` in interleaved rounds and return one series per target, in order."""
        series = [Series(target) for target in targets]
        for _ in range(self.settings.rounds):
            for entry in series:
                entry.samples.append(self.load(entry.target, connections or self.settings.connections))
        return series

    def load(self, target: Target, connections: int) -> Sample:
        """Warm ``target`` up, then run wrk against it once."""
        self._wrk(target, connections, self.settings.warmup_seconds)
        servers = target.cpu_of or (target.server,)
        cpu_before = [server.cpu_seconds() for server in servers]
        report = self._wrk(target, connections, self.settings.seconds)
        requests = max(report["requests"], 1)
        cpu = tuple((server.cpu_seconds() - before) / requests * 1e6
                    for server, before in zip(servers, cpu_before, strict=True))
        return Sample(rps=requests / (report["duration_us"] / 1e6), p50_ms=report["p50_us"] / 1000,
                      p99_ms=report["p99_us"] / 1000, errors=report["errors"], non_2xx=report["non_2xx"],
                      cpu_us=sum(cpu), cpu_us_by_server=cpu)

    def _wrk(self, target: Target, connections: int, seconds: float) -> dict:
        lines = [f"wrk.method = {json.dumps(target.method)}"]
        if target.body is not None:
            lines.append(f"wrk.body = {json.dumps(target.body)}")
        lines += [f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in target.headers]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", dir=self.log_dir, delete=False) as script:
            script.write("\n".join(lines) + "\n" + _REPORT_LUA)
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                   "-s", script.name, target.server.url + target.path]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
        last = done.stdout.strip().splitlines()[-1:] or [""]
        if done.returncode != 0 or not last[0].startswith("{"):
            raise SystemExit(f"wrk failed against {target.label}: {done.stdout}{done.stderr}")
        return json.loads(last[0])

    def close(self) -> None:
        """Stop every server and remove the logs."""
        for server in reversed(self.servers):
            server.stop()
        shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until_answering(server: Server, path: str, timeout: float = 30) -> None:
    """Return once ``server`` answers ``path`` with 200.

    :raises SystemExit: when it does not within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if server.get(path) == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.name} does not answer {path}; its log:\n{server.log()[-3000:]}")
        time.sleep(0.1)
