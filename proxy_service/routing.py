"""Where a request goes: a pure function of the path, a few headers, the settings and a random source.

``/api/movies`` and below is split between the monolith and the movies service,
``/api/events`` and below goes to the events service, every other ``/api`` path to the
monolith. A request that names a user (``X-User-Id``) is bucketed by a salted hash, so
the same user always lands on the same side for a given percentage, and raising the
percentage only moves more buckets to the movies service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from proxy_service.config import RoutingSettings

MONOLITH = "monolith"
MOVIES = "movies-service"
EVENTS = "events-service"

# Route names, a small fixed set so they can label metrics.
MOVIES_ROUTE = "movies"
EVENTS_ROUTE = "events"
LEGACY_ROUTE = "legacy"

BUCKETS = 10_000
_PER_PERCENT = BUCKETS // 100
OVERRIDE_TARGETS = {"legacy": MONOLITH, "new": MOVIES}


class BadOverride(ValueError):
    """An ``X-Migration-Target`` value other than ``legacy`` or ``new``."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The chosen ``upstream``, the ``route`` it serves and why (``reason``)."""

    upstream: str
    route: str
    reason: str

    @property
    def forced(self) -> bool:
        """Tell whether a tester chose the backend with ``X-Migration-Target``."""
        return self.reason == "override"


def route_of(path: str) -> str | None:
    """Return the route of an ``/api`` path, or None for a path the gateway answers itself.

    Leading slashes count as one, as the backends' routing (Werkzeug's) reads them, so a
    path is routed by what the backend that gets it will see.
    """
    if path[:2] == "//":
        path = "/" + path.lstrip("/")
    if not (path.startswith("/api/") or path == "/api"):
        return None
    if _below(path, "/api/movies"):
        return MOVIES_ROUTE
    if _below(path, "/api/events"):
        return EVENTS_ROUTE
    return LEGACY_ROUTE


def _below(path: str, prefix: str) -> bool:
    return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")


def bucket_of(user_id: str, salt: str) -> int:
    """Return the user's bucket, from 0 to ``BUCKETS - 1``; the same for the same user and salt."""
    digest = hashlib.blake2b(user_id.encode("utf-8", "surrogateescape"), digest_size=8,
                             key=salt.encode("utf-8")[:64]).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def choose_upstream(route: str, settings: RoutingSettings, *, user_id: str | None = None,
                    override: str | None = None, salt: str = "", random: Callable[[], float],
                    movies_available: Callable[[], bool] = lambda: True,
                    movies_percent: int | None = None) -> Decision:
    """Decide which backend serves a request on ``route``.

    ``random`` returns a float in [0, 1) and is called only for a movies request without a
    user; ``movies_available`` (the circuit breaker) only when the movies service is chosen.
    ``movies_percent``, when given, is the share in force (a ramp step, or 0 while the guard
    holds) instead of the one the settings name.

    :raises BadOverride: for an ``X-Migration-Target`` other than ``legacy`` or ``new``.
    """
    if route == EVENTS_ROUTE:
        return Decision(EVENTS, route, "path")
    if route != MOVIES_ROUTE:
        return Decision(MONOLITH, route, "path")
    if override and settings.override_enabled:
        target = OVERRIDE_TARGETS.get(override.strip().lower())
        if target is None:
            raise BadOverride(override)
        return Decision(target, route, "override")
    percent = settings.movies_migration_percent if movies_percent is None else movies_percent
    if not settings.gradual_migration and (movies_percent is None or movies_percent >= 100):
        upstream, reason = MOVIES, "migration-complete"
    elif user_id:
        to_movies = bucket_of(user_id, salt) < percent * _PER_PERCENT
        upstream, reason = (MOVIES if to_movies else MONOLITH), "sticky"
    else:
        to_movies = random() * 100 < percent
        upstream, reason = (MOVIES if to_movies else MONOLITH), "random"
    if upstream == MOVIES and not movies_available():
        return Decision(MONOLITH, route, "circuit-open")
    return Decision(upstream, route, reason)
