"""Fuzz every service of a running stack with schemathesis, driven by openapi.yaml.

``python -m tests.fuzz.run --reports DIR SERVICE=URL...`` runs schemathesis once per
service: only the operations tagged with that service, against its base URL. Each run
writes ``DIR/schemathesis-SERVICE.json`` (schemathesis' own JSON report) and
``DIR/schemathesis-SERVICE.log`` (its console output, printed too when the run fails).
``gateway`` is the gateway's main port, without the paths only its admin port serves;
``gateway-admin=URL`` fuzzes those on the admin port.
Settings, checks and their justification live in ``tests/fuzz/schemathesis.toml``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
CONFIG = ROOT / "tests" / "fuzz" / "schemathesis.toml"
SERVICES = ("monolith", "movies-service", "events-service", "gateway")
# What a target may name: a service, or the gateway's admin port (make e2e does not fuzz it yet).
TARGETS = (*SERVICES, "gateway-admin")
# The gateway serves two ports: its main one (/api, /health) and its admin port (/health, /ready,
# /metrics, /status, /dashboard). openapi.yaml names the admin port among an operation's servers;
# "gateway" fuzzes the main port without the admin-only paths, "gateway-admin" the admin port's.
ADMIN = "gateway admin port"
# The events API creates nothing it could read back by id, so openapi.yaml has no links for the
# stateful phase to follow there; every other service runs all four phases.
PHASES = {"events-service": "examples,coverage,fuzzing"}
# A fixed seed by default, so a failure in CI replays locally; FUZZ_SEED=<n> explores elsewhere.
DEFAULT_SEED = 20260101


def admin_paths(spec: dict) -> tuple[set[str], set[str]]:
    """Return the paths the gateway's admin port serves, and those it alone serves."""
    served = {path: {server.get("description") for server in item.get("servers", ())}
              for path, item in spec["paths"].items()}
    on_admin = {path for path, names in served.items() if ADMIN in names}
    return on_admin, {path for path in on_admin if "gateway" not in served[path]}


def _exactly(paths: set[str]) -> str:
    return "^(" + "|".join(re.escape(path) for path in sorted(paths)) + ")$"


def command(service: str, url: str, report: Path, seed: int) -> list[str]:
    """Return the schemathesis command line that fuzzes ``service`` at ``url``."""
    phases = ["--phases", PHASES[service]] if service in PHASES else []
    tag, paths = service, []
    if service.startswith("gateway"):
        on_admin, admin_only = admin_paths(yaml.safe_load(SPEC.read_text()))
        tag = "gateway"
        if service == "gateway-admin":
            paths = ["--include-path-regex", _exactly(on_admin)]
        elif admin_only:
            paths = ["--exclude-path-regex", _exactly(admin_only)]
    return [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG),
        "run", str(SPEC), "--url", url, "--include-tag", tag, *paths, "--seed", str(seed), *phases,
        "--report", "json", "--report-json-path", str(report),
    ]


def summarize(report: dict) -> str:
    """Return one line about a schemathesis JSON report."""
    operations = report["operations"]["tested"]
    cases = report["test_cases"]
    return (f"{operations} operations, {cases['generated']} test cases, "
            f"{cases['unique_failures']} failures, {len(report['errors'])} errors")


def fuzz(service: str, url: str, reports: Path, seed: int) -> bool:
    """Run schemathesis on one service; return True when it found nothing."""
    report, log = reports / f"schemathesis-{service}.json", reports / f"schemathesis-{service}.log"
    report.unlink(missing_ok=True)
    # The hooks import the service's own timestamp parser, so the repository must be importable.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "FUZZ_SERVICE": service}
    started = time.monotonic()
    with log.open("w") as output:
        process = subprocess.run(command(service, url, report, seed), cwd=ROOT, env=env, stdout=output,
                                 stderr=subprocess.STDOUT, check=False, timeout=900)
    elapsed = time.monotonic() - started
    passed = process.returncode == 0 and report.exists()
    result = summarize(json.loads(report.read_text())) if report.exists() else "no report"
    print(f"schemathesis {service:<15} {'ok' if passed else 'FAILED'}: {result} in {elapsed:.0f}s ({url})",
          flush=True)
    if not passed:
        print(log.read_text(), flush=True)
    return passed


def parse_target(value: str) -> tuple[str, str]:
    """Parse ``SERVICE=URL``."""
    service, _, url = value.partition("=")
    if service not in TARGETS or not url.startswith("http"):
        raise argparse.ArgumentTypeError(f"expected SERVICE=URL with SERVICE one of {', '.join(TARGETS)}")
    return service, url


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tests.fuzz.run``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, required=True, help="directory for the reports and logs")
    parser.add_argument("targets", nargs="+", type=parse_target, metavar="SERVICE=URL")
    args = parser.parse_args(argv)
    seed = int(os.environ.get("FUZZ_SEED") or DEFAULT_SEED)
    args.reports.mkdir(parents=True, exist_ok=True)
    results = [fuzz(service, url, args.reports, seed) for service, url in args.targets]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
