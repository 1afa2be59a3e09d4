"""Reading docker-compose.yml: interpolation, the services built from this repository, and their settings."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from cinema_common.serving import gunicorn_settings
from tests.deploy.docker_support import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
_INTERPOLATION = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?-)([^}]*))?\}|(\w+))")


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """Return the compose file as data (YAML merge keys resolved, nothing interpolated)."""
    return yaml.safe_load(path.read_text())


def interpolate(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Substitute variables as Compose does: ``$$``, ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``."""
    environ = environ or {}

    def value(match: re.Match) -> str:
        if match.group(1):
            return "$"
        name = match.group(2) or match.group(5)
        operator, default = match.group(3), match.group(4) or ""
        if operator == ":-":
            return environ.get(name) or default
        if operator == "-":
            return environ.get(name, default)
        return environ.get(name, "")
    return _INTERPOLATION.sub(value, text)


def environment(service: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return a service's ``environment`` as a mapping, interpolated (list and mapping forms alike)."""
    raw = service.get("environment") or {}
    pairs = (item.partition("=")[::2] for item in raw) if isinstance(raw, list) else raw.items()
    return {name: interpolate(str(value), environ) for name, value in pairs}


def built_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the services whose image is built from this repository, by name."""
    return {name: service for name, service in compose["services"].items() if "build" in service}


def package_of(service: dict[str, Any]) -> str:
    """Return the Python package a built service runs: the folder of its Dockerfile."""
    return Path(service["build"]["dockerfile"]).parent.name


def dockerfile_of(service: dict[str, Any]) -> Path:
    """Return the Dockerfile a built service is made from."""
    build = service["build"]
    return ROOT / build.get("context", ".") / build["dockerfile"]


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    """Return the services this one waits for, with the condition of each."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends_on.items()}


def start_order(services: dict[str, dict[str, Any]]) -> list[str]:
    """Return ``services`` so that each comes after the ones it depends on (among them)."""
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        if name in ordered:
            return
        for dependency in dependencies(services[name]):
            if dependency in services:
                visit(dependency, (*path, name))
        ordered.append(name)
    for name in services:
        visit(name, ())
    return ordered


class RecordingEnviron(Mapping[str, str]):
    """An environment that remembers every name the code looks up, set or not."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.names.add(name)
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def read_settings(package: str, environ: Mapping[str, str]) -> tuple[Any, set[str]]:
    """Read a service's settings the way its gunicorn configuration does; return them and the names read.

    That is ``Config.from_env`` of ``<package>.config`` and the gunicorn settings of
    ``cinema_common.serving``, both given a recording environment instead of ``os.environ``.
    """
    config_class = importlib.import_module(f"{package}.config").Config
    recorder = RecordingEnviron(environ)
    config = config_class.from_env(recorder)
    gunicorn_settings(lambda: config_class.from_env(recorder), package, environ=recorder)
    return config, recorder.names
