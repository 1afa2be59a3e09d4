"""Gateway settings, read from the environment once; the routing part may also come from a file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Self
from urllib.parse import urlsplit

from cinema_common.env import ConfigError, EnvReader
from proxy_service.ramp import parse_instant, parse_ramp_steps

# The settings a routing config file may change, under the same names as in the environment.
ROUTING_KEYS = ("GRADUAL_MIGRATION", "MOVIES_MIGRATION_PERCENT", "MIGRATION_OVERRIDE_ENABLED",
                "MOVIES_FALLBACK_ENABLED", "MOVIES_RAMP_STEPS", "MOVIES_RAMP_INTERVAL_SECONDS", "MOVIES_RAMP_START",
                "GUARD_ENABLED", "GUARD_REARM", "SHADOW_PERCENT", "SHADOW_IGNORE_FIELDS")


@dataclass(frozen=True)
class RoutingSettings:
    """What decides where ``/api/movies`` goes; may change while the gateway runs."""

    gradual_migration: bool = True
    movies_migration_percent: int = 50
    override_enabled: bool = True
    fallback_enabled: bool = True
    # A ramp plan replaces movies_migration_percent while it has steps (see ramp.py).
    ramp_steps: tuple[int, ...] = ()
    ramp_interval_seconds: float = 600.0
    ramp_start: float | None = None
    guard_enabled: bool = True
    guard_rearm: str = ""
    shadow_percent: float = 0.0
    shadow_ignore_fields: tuple[str, ...] = ()

    @classmethod
    def read(cls, values: Mapping[str, str], defaults: RoutingSettings | None = None) -> Self:
        """Read the routing settings from ``values`` (the environment or a file), others from ``defaults``.

        :raises ConfigError: naming the variable and its value.
        """
        base = defaults or cls()
        env = EnvReader(values)
        return cls(
            gradual_migration=env.boolean("GRADUAL_MIGRATION", base.gradual_migration),
            movies_migration_percent=env.integer("MOVIES_MIGRATION_PERCENT", base.movies_migration_percent,
                                                 minimum=0, maximum=100),
            override_enabled=env.boolean("MIGRATION_OVERRIDE_ENABLED", base.override_enabled),
            fallback_enabled=env.boolean("MOVIES_FALLBACK_ENABLED", base.fallback_enabled),
            ramp_steps=parse_ramp_steps("MOVIES_RAMP_STEPS", values["MOVIES_RAMP_STEPS"])
            if "MOVIES_RAMP_STEPS" in values else base.ramp_steps,
            ramp_interval_seconds=env.number("MOVIES_RAMP_INTERVAL_SECONDS", base.ramp_interval_seconds,
                                             minimum=0.1),
            ramp_start=parse_instant("MOVIES_RAMP_START", values["MOVIES_RAMP_START"])
            if "MOVIES_RAMP_START" in values else base.ramp_start,
            guard_enabled=env.boolean("GUARD_ENABLED", base.guard_enabled),
            guard_rearm=values["GUARD_REARM"].strip() if "GUARD_REARM" in values else base.guard_rearm,
            shadow_percent=_percent(env, "SHADOW_PERCENT", base.shadow_percent),
            shadow_ignore_fields=tuple(sorted({name.strip() for name in values["SHADOW_IGNORE_FIELDS"].split(",")
                                               if name.strip()}))
            if "SHADOW_IGNORE_FIELDS" in values else base.shadow_ignore_fields,
        )


def _percent(env: EnvReader, name: str, default: float) -> float:
    value = env.number(name, default, minimum=0.0)
    if value > 100:
        raise ConfigError(name, str(value), "a percentage from 0 to 100")
    return value


@dataclass(frozen=True)
class UpstreamAddress:
    """Where a backend listens: ``host``, ``port`` and the ``Host`` header it expects."""

    url: str
    host: str
    port: int
    host_header: str

    @classmethod
    def parse(cls, name: str, url: str) -> Self:
        """Split an ``http://host[:port]`` URL.

        :raises ConfigError: for another scheme, a path, or a bad port.
        """
        parts = urlsplit(url)
        try:
            port = parts.port or 80
        except ValueError:
            port = 0
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/") or parts.query or not port:
            raise ConfigError(name, url, "an http://host[:port] URL without a path")
        return cls(url.rstrip("/"), parts.hostname, port, parts.netloc)


@dataclass(frozen=True)
class Config:
    """Typed gateway settings; every field has an environment variable of the same name in capitals."""

    port: int = 8000
    admin_port: int = 9000
    monolith_url: str = "http://localhost:8080"
    movies_service_url: str = "http://localhost:8081"
    events_service_url: str = "http://localhost:8082"
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    routing_config_file: str | None = None
    routing_check_seconds: float = 1.0
    migration_salt: str = "cinemaabyss-movies"
    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 10.0
    max_body_bytes: int = 1024 * 1024
    response_buffer_bytes: int = 8 * 1024 * 1024
    upstream_pool_size: int = 64
    circuit_failure_threshold: int = 5
    circuit_cooldown_seconds: float = 10.0
    ready_timeout_seconds: float = 0.8
    guard_window_seconds: float = 60.0
    guard_min_requests: int = 20
    guard_max_error_rate: float = 0.05
    guard_max_p99_seconds: float = 1.0
    shadow_max_in_flight: int = 16
    status_sample_seconds: float = 5.0

    def __post_init__(self) -> None:
        for name in ("monolith_url", "movies_service_url", "events_service_url"):
            UpstreamAddress.parse(name.upper(), getattr(self, name))
        if self.admin_port == self.port:
            raise ConfigError("ADMIN_PORT", str(self.admin_port), f"a port other than PORT={self.port}")

    def address(self, upstream: str) -> UpstreamAddress:
        """Return where ``upstream`` (``monolith``, ``movies-service``, ``events-service``) listens."""
        url = {"monolith": self.monolith_url, "movies-service": self.movies_service_url,
               "events-service": self.events_service_url}[upstream]
        return UpstreamAddress.parse(upstream, url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Self:
        """Read the settings, failing on a value that cannot be used.

        :raises ConfigError: naming the variable and its value.
        """
        env = EnvReader(environ)
        default = {f.name: f.default for f in fields(cls)}
        return cls(
            port=env.integer("PORT", default["port"], minimum=1, maximum=65535),
            admin_port=env.integer("ADMIN_PORT", default["admin_port"], minimum=1, maximum=65535),
            monolith_url=env.raw("MONOLITH_URL", default["monolith_url"]).rstrip("/"),
            movies_service_url=env.raw("MOVIES_SERVICE_URL", default["movies_service_url"]).rstrip("/"),
            events_service_url=env.raw("EVENTS_SERVICE_URL", default["events_service_url"]).rstrip("/"),
            routing=RoutingSettings.read(environ),
            routing_config_file=env.raw("ROUTING_CONFIG_FILE", "") or None,
            routing_check_seconds=env.number("ROUTING_CHECK_SECONDS", default["routing_check_seconds"], minimum=0.05),
            migration_salt=env.string("MIGRATION_SALT", default["migration_salt"]),
            connect_timeout_seconds=env.number("UPSTREAM_CONNECT_TIMEOUT_SECONDS",
                                               default["connect_timeout_seconds"], minimum=0.01),
            read_timeout_seconds=env.number("UPSTREAM_READ_TIMEOUT_SECONDS", default["read_timeout_seconds"],
                                            minimum=0.01),
            max_body_bytes=env.integer("MAX_BODY_BYTES", default["max_body_bytes"], minimum=0),
            response_buffer_bytes=env.integer("RESPONSE_BUFFER_BYTES", default["response_buffer_bytes"], minimum=0),
            upstream_pool_size=env.integer("UPSTREAM_POOL_SIZE", default["upstream_pool_size"],
                                           minimum=1, maximum=10000),
            circuit_failure_threshold=env.integer("CIRCUIT_FAILURE_THRESHOLD", default["circuit_failure_threshold"],
                                                  minimum=1, maximum=1000),
            circuit_cooldown_seconds=env.number("CIRCUIT_COOLDOWN_SECONDS", default["circuit_cooldown_seconds"],
                                                minimum=0.01),
            ready_timeout_seconds=env.number("READY_TIMEOUT_SECONDS", default["ready_timeout_seconds"],
                                             minimum=0.01),
            guard_window_seconds=env.number("GUARD_WINDOW_SECONDS", default["guard_window_seconds"], minimum=0.1),
            guard_min_requests=env.integer("GUARD_MIN_REQUESTS", default["guard_min_requests"], minimum=1),
            guard_max_error_rate=_fraction(env, "GUARD_MAX_ERROR_RATE", default["guard_max_error_rate"]),
            guard_max_p99_seconds=env.number("GUARD_MAX_P99_SECONDS", default["guard_max_p99_seconds"],
                                             minimum=0.001),
            shadow_max_in_flight=env.integer("SHADOW_MAX_IN_FLIGHT", default["shadow_max_in_flight"],
                                             minimum=1, maximum=1000),
            status_sample_seconds=env.number("STATUS_SAMPLE_SECONDS", default["status_sample_seconds"],
                                             minimum=0.1),
        )


def _fraction(env: EnvReader, name: str, default: float) -> float:
    value = env.number(name, default, minimum=0.0)
    if value > 1:
        raise ConfigError(name, str(value), "a fraction from 0 to 1")
    return value
