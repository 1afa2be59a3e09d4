"""What each CinemaAbyss service really reads and serves, taken from its own code, for the manifests to match.

- environment names: every variable its ``Config.from_env`` and its gunicorn settings read,
  recorded by handing them a mapping that notes each lookup;
- port and start-up: its gunicorn configuration module, run in a child process with exactly
  the environment a container gets, as gunicorn loads it at start;
- routes: the rules registered in the Flask app's ``url_map``, the app built with every
  dependency (PostgreSQL, Kafka, upstreams) on a closed loopback port.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Flask

from cinema_common import db
from cinema_common.serving import gunicorn_settings
from devstack.net import free_port
from tests.deploy.k8s_support import ROOT

# Kubernetes component name -> Python package.
PACKAGES = {"monolith": "monolith", "movies-service": "movies_service", "events-service": "events_service",
            "proxy-service": "proxy_service"}
# libpq's own environment variables (PostgreSQL manual, "Environment Variables"), read at connect time
# by any service on psycopg: the manifests pass the credentials this way, never in a URL.
LIBPQ_VARIABLES = frozenset({"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGSSLMODE",
                             "PGCONNECT_TIMEOUT", "PGAPPNAME"})
_GUNICORN_PROBE = """
import json, runpy, sys
settings = runpy.run_module(sys.argv[1])
print(json.dumps({"bind": settings["bind"], "workers": settings["workers"]}))
"""


class RecordingEnv(Mapping[str, str]):
    """A read-only environment that remembers every name looked up in it, set or not."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        """Return the value of ``name`` or ``default``, noting the lookup."""
        self.read.add(name)
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        self.read.add(str(name))
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def config_class(package: str) -> Any:
    """Return a service's ``Config`` dataclass."""
    return importlib.import_module(f"{package}.config").Config


def uses_libpq(package: str) -> bool:
    """Tell whether a service talks to PostgreSQL through psycopg (so libpq reads its PG* variables)."""
    return "psycopg" in (ROOT / package / "requirements.txt").read_text(encoding="utf-8")


def environment_names(package: str) -> frozenset[str]:
    """Return every variable a service reads at start: its Config's and its gunicorn settings'."""
    env = RecordingEnv()
    config = config_class(package)
    gunicorn_settings(lambda: config.from_env(env), package, environ=env)
    names = frozenset(env.read)
    return names | LIBPQ_VARIABLES if uses_libpq(package) else names


def load_config(package: str, environ: Mapping[str, str]) -> Any:
    """Return the service's settings for ``environ``, as its ``Config.from_env`` reads them."""
    return config_class(package).from_env(environ)


def gunicorn_start(package: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """Load the service's gunicorn configuration module with exactly ``environ``, as gunicorn does at start.

    :raises AssertionError: with the one-line message when the service refuses to start.
    """
    child_env = {**environ, "PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "")}
    result = subprocess.run([sys.executable, "-c", _GUNICORN_PROBE, f"{package}.gunicorn_conf"],
                            env=child_env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{package} would not start: {result.stderr.strip().splitlines()[-1:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def offline_environment() -> dict[str, str]:
    """Return settings under which every dependency of every service is a closed loopback port."""
    closed = f"127.0.0.1:{free_port()}"
    return {
        "DB_CONNECTION_STRING": f"postgresql://nobody@{closed}/none",
        "DB_TIMEOUT_SECONDS": "0.2",
        "KAFKA_BROKERS": closed,
        "MONOLITH_URL": f"http://{closed}",
        "MOVIES_SERVICE_URL": f"http://{closed}",
        "EVENTS_SERVICE_URL": f"http://{closed}",
        "UPSTREAM_CONNECT_TIMEOUT_SECONDS": "0.2",
        "READY_TIMEOUT_SECONDS": "0.2",
    }


@contextmanager
def offline_app(package: str) -> Iterator[Flask]:
    """Yield the service's app with its dependencies out of reach; stop its pools and threads afterwards."""
    module = importlib.import_module(f"{package}.app")
    app = module.create_app(load_config(package, offline_environment()))
    app.testing = True
    try:
        yield app
    finally:
        shutdown = getattr(module, "shutdown", None)
        if shutdown is not None:
            shutdown(app)
        try:
            pool = db.pool_of(app)
        except KeyError:
            pool = None
        if pool is not None:
            pool.close()


def get_routes(app: Flask) -> frozenset[str]:
    """Return the paths of the rules that answer GET, as registered in the app's ``url_map``."""
    return frozenset(rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods)
