"""Readiness: whether each backend answers its health check right now, without failing liveness.

The gateway is ready while the monolith answers: it is the backbone every route falls back
to. The movies and events services are reported (with the movies circuit state) but do
not make the gateway unready: taking the whole gateway out of a load balancer because
one service is down would turn a partial outage into a full one.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from proxy_service.routing import EVENTS, MONOLITH, MOVIES
from proxy_service.upstream import Upstream, UpstreamError

HEALTH_PATHS = {MONOLITH: "/health", MOVIES: "/api/movies/health", EVENTS: "/api/events/health"}
REQUIRED = (MONOLITH,)


def probe_all(upstreams: dict[str, Upstream], timeout: float) -> dict[str, dict[str, Any]]:
    """Check every backend's health endpoint at once; return each one's state."""
    results: dict[str, dict[str, Any]] = {}

    def probe(name: str, upstream: Upstream) -> None:
        started = time.perf_counter()
        state: dict[str, Any] = {"url": upstream.address.url + HEALTH_PATHS[name]}
        try:
            status = upstream.probe(HEALTH_PATHS[name], timeout)
        except UpstreamError as error:
            state.update(up=False, error=str(error))
        else:
            state.update(up=status == 200, status=status)
        state["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = state

    threads = [threading.Thread(target=probe, args=item, daemon=True) for item in upstreams.items()]
    for thread in threads:
        thread.start()
    # Each probe is bounded by its connect and read timeouts; the margin covers name resolution.
    deadline = time.monotonic() + 2 * timeout + 0.5
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for name, upstream in upstreams.items():
        results.setdefault(name, {"url": upstream.address.url + HEALTH_PATHS[name], "up": False,
                                  "error": "no answer in time"})
    return {name: results[name] for name in upstreams}


def is_ready(states: dict[str, dict[str, Any]]) -> bool:
    """Tell whether every required backend is up."""
    return all(states[name]["up"] for name in REQUIRED)
