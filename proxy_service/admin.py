"""The admin port's own pages: ``/status`` (JSON for operators and the dashboard) and ``/dashboard``.

``/health``, ``/ready`` and ``/metrics`` are the app's; the gateway sends a request to this
app only when it arrived on ``ADMIN_PORT`` (gunicorn's ``SERVER_PORT`` is the port of the
listener that accepted the connection, whatever ``Host`` says). The dashboard is static
HTML, CSS and JavaScript from ``proxy_service/dashboard``; it fetches ``/status`` every few
seconds and draws its charts as SVG itself, so it needs nothing from the internet.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify

from proxy_service.breaker import CircuitBreaker
from proxy_service.guard import Guard
from proxy_service.ramp import format_instant
from proxy_service.shadow import ShadowRunner
from proxy_service.split import SplitController
from proxy_service.traffic_history import TrafficHistory

DASHBOARD = Path(__file__).resolve().parent / "dashboard"
ASSETS = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
# The page loads only its own script and style, and talks only to this gateway.
_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
           "base-uri 'none'; frame-ancestors 'none'; form-action 'none'")


def is_admin_request(environ: dict[str, Any], admin_port: int) -> bool:
    """Tell whether a request came in on the admin listener."""
    return environ.get("SERVER_PORT") == str(admin_port)


@dataclass
class StatusSources:
    """Everything ``/status`` reports on."""

    split: SplitController
    guard: Guard
    breaker: CircuitBreaker
    shadow: ShadowRunner
    history: TrafficHistory
    shadow_settings: Any = None


def status_of(sources: StatusSources) -> dict[str, Any]:
    """Return the gateway's migration state and the last minutes of traffic, summed over the workers."""
    split = sources.split.current()
    guard = sources.guard
    counts = guard.counts()
    series = sources.history.series()
    totals = sources.history.latest()
    settings = sources.split.routing.state.settings
    shadow_counts = {result: totals.shadow.get(result, 0.0) for result in ("match", "mismatch", "error", "skipped")}
    compared = shadow_counts["match"] + shadow_counts["mismatch"]
    return {
        "generated_at": format_instant(time.time()),
        "worker": os.getpid(),
        "split": split.describe(),
        "guard": {
            "enabled": guard.enabled, "state": guard.state, "rearm_token": guard.token,
            "limits": {"window_seconds": guard.limits.window_seconds, "min_requests": guard.limits.min_requests,
                       "max_error_rate": guard.limits.max_error_rate,
                       "max_p99_seconds": guard.limits.max_p99_seconds},
            "window": {"requests": counts.requests, "error_rate": round(counts.error_rate, 4),
                       "slow_rate": round(counts.slow_rate, 4)},
            "last_trip": _trip_view(sources.split.last_trip(), guard.token),
            "trips_total": totals.gauges.get("gateway_guard_trips_total", 0.0),
        },
        "circuit": {"movies-service": sources.breaker.state,
                    "opened_total": totals.gauges.get("gateway_circuit_opened_total", 0.0)},
        "traffic": {"sample_seconds": sources.history.sample_seconds, "series": series,
                    "totals": {name: {"requests": totals.requests.get(name, 0.0),
                                      "errors": totals.errors.get(name, 0.0)} for name in sources.history.upstreams}},
        "fallbacks": {"by_reason": dict(totals.fallbacks),
                      "recent": [{"t": point["t"], **point["fallbacks"]} for point in series
                                 if any(point["fallbacks"].values())][-20:]},
        "shadow": {
            "percent": settings.shadow_percent, "ignore_fields": sorted(settings.shadow_ignore_fields),
            "counts": shadow_counts, "in_flight": sources.shadow.in_flight,
            "match_rate": round(shadow_counts["match"] / compared, 4) if compared else None,
            "mismatches": sources.shadow.mismatches(),
        },
    }


def _trip_view(record: dict[str, Any] | None, token: str) -> dict[str, Any] | None:
    if not record:
        return None
    return {"reason": record.get("reason"), "at": format_instant(record.get("at")),
            "requests": record.get("requests"), "error_rate": record.get("error_rate"),
            "ramp_index": record.get("ramp_index"), "rearm_token": record.get("rearm_token"),
            "holding": record.get("rearm_token") == token}


def init_admin(app: Flask, sources: StatusSources) -> None:
    """Add ``/status``, ``/dashboard`` and the dashboard's script and style to ``app``."""
    page = (DASHBOARD / "index.html").read_bytes()
    assets = {name: (DASHBOARD / name).read_bytes() for name in ASSETS}

    @app.get("/status")
    def status() -> Response:
        """The split in force, the ramp, the guard, the circuit, traffic, fallbacks and shadow results."""
        response = jsonify(status_of(sources))
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/dashboard")
    def dashboard() -> Response:
        """The live migration dashboard."""
        return _static(page, "text/html; charset=utf-8")

    @app.get("/dashboard/<name>")
    def dashboard_asset(name: str) -> Response:
        """The dashboard's script and style sheet."""
        if name not in assets:
            return jsonify(error=f"no dashboard file {name!r}"), 404
        return _static(assets[name], ASSETS[name])


def _static(body: bytes, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Security-Policy"] = _POLICY
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
