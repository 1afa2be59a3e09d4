"""The API suites against a throw-away stack: newman (the Postman collection), then schemathesis.

``python -m tests.e2e.run --reports DIR`` (what ``make e2e`` runs):

1. waits for any other run of it in this checkout (a lock file), so two never share data;
2. picks free loopback ports for every process of the stack and deletes ``var/e2e``;
3. ``make up`` with those ports and ``VAR_DIR=var/e2e``: a fresh database, a fresh broker;
4. runs the Postman collection with newman (``npm run test:local``), the stack's real base
   URLs passed with ``--env-var``, then fuzzes every service with ``tests/fuzz/run.py``;
5. ``make down`` with the same settings, whatever happened before (a ``finally``).

The stack never touches the default ports or ``var/``, so it cannot meet a developer's
``make up``. Reports go to DIR: ``newman.json`` and ``schemathesis-<service>.json``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from devstack import supervisor
from tests.fuzz import run as fuzz

ROOT = Path(__file__).resolve().parents[2]
VAR_DIR = "var/e2e"
POSTMAN = ROOT / "tests" / "postman"
PORTS = ("POSTGRES_PORT", "KAFKA_PORT", "MONOLITH_PORT", "MOVIES_PORT", "EVENTS_PORT", "PROXY_PORT", "ADMIN_PORT")
# Settings the Makefile derives from the ports; inherited from a parent make they would still
# name the default ports, so they are dropped and the Makefile derives them again. MAKEFLAGS
# would carry a `make test PORT=...` override into the inner make.
DERIVED = ("DB_CONNECTION_STRING", "KAFKA_BROKERS", "MONOLITH_URL", "MOVIES_SERVICE_URL", "EVENTS_SERVICE_URL",
           "ROUTING_CONFIG_FILE", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
# Service (as openapi.yaml tags it), its Procfile process, its port variable, its Postman variable.
SERVICES = (
    ("monolith", "monolith", "MONOLITH_PORT", "monolith_url"),
    ("movies-service", "movies", "MOVIES_PORT", "movies_url"),
    ("events-service", "events", "EVENTS_PORT", "events_url"),
    ("gateway", "proxy", "PROXY_PORT", "gateway_url"),
)
LOCK_WAIT_SECONDS = 1200


def free_ports(count: int) -> list[int]:
    """Return ``count`` distinct loopback ports that nothing listens on, all held open while choosing."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def stack_environment(ports: dict[str, int]) -> dict[str, str]:
    """Return the environment of the inner ``make up``/``make down``."""
    env = {key: value for key, value in os.environ.items() if key not in DERIVED}
    env.update({name: str(port) for name, port in ports.items()}, VAR_DIR=VAR_DIR, BIND_HOST="127.0.0.1")
    return env


def procfile_processes() -> set[str]:
    """Return the process names the Procfile runs (as the local stack's supervisord config lists them)."""
    return set(supervisor.procfile_processes())


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path``, waiting a bounded time for another holder."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"another run holds {lock_path} after {LOCK_WAIT_SECONDS}s") from None
                if not announced:
                    print(f"waiting for another run of the API suites in this checkout ({lock_path})", flush=True)
                    announced = True
                time.sleep(1)
        yield


@contextmanager
def stack(env: dict[str, str]) -> Iterator[bool]:
    """Run ``make up``; yield whether it came up; always ``make down`` afterwards."""
    shutil.rmtree(ROOT / VAR_DIR, ignore_errors=True)
    try:
        up = subprocess.run(["make", "--no-print-directory", "up"], cwd=ROOT, env=env, check=False)
        yield up.returncode == 0
    finally:
        subprocess.run(["make", "--no-print-directory", "down"], cwd=ROOT, env=env, check=False)


def newman(urls: dict[str, str], report: Path) -> bool:
    """Run the Postman collection against ``urls`` (Postman variable -> base URL); True when all passed."""
    report.unlink(missing_ok=True)
    env_vars = [arg for name, url in urls.items() for arg in ("--env-var", f"{name}={url}")]
    process = subprocess.run(
        ["npm", "run", "--silent", "test:local", "--", *env_vars, "--reporters", "cli,json",
         "--reporter-json-export", str(report), "--reporter-cli-no-success-assertions"],
        cwd=POSTMAN, check=False, timeout=600)
    return process.returncode == 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tests.e2e.run``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, required=True, help="directory for the reports")
    args = parser.parse_args(argv)
    # A SIGTERM (a CI timeout, a kill) unwinds like Ctrl-C, so the stack's `make down` still runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    reports = args.reports.resolve()
    reports.mkdir(parents=True, exist_ok=True)
    for stale in (*reports.glob("newman*.json"), *reports.glob("schemathesis-*")):
        stale.unlink()

    with exclusive(ROOT / "var" / "e2e.lock"):
        ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
        running = procfile_processes()
        services = [(tag, port_var, variable) for tag, process, port_var, variable in SERVICES if process in running]
        urls = {tag: f"http://127.0.0.1:{ports[port_var]}" for tag, port_var, _ in services}
        # A service the stack does not run gets an empty base URL: its Postman folder is skipped.
        postman_urls = {variable: urls.get(tag, "") for tag, _, _, variable in SERVICES}
        # The gateway's admin port (/ready, /metrics, /status, /dashboard), for the requests that ask it.
        postman_urls["admin_url"] = f"http://127.0.0.1:{ports['ADMIN_PORT']}" if "gateway" in urls else ""
        print(f"API suites: stack in {VAR_DIR} on " + ", ".join(f"{k}={v}" for k, v in ports.items()), flush=True)
        with stack(stack_environment(ports)) as up:
            if not up:
                print("API suites: the stack did not come up; see the log above", file=sys.stderr)
                return 1
            collection_passed = newman(postman_urls, reports / "newman.json")
            fuzz_passed = fuzz.main(["--reports", str(reports), *(f"{tag}={url}" for tag, url in urls.items())]) == 0
    return 0 if collection_passed and fuzz_passed else 1


if __name__ == "__main__":
    sys.exit(main())
