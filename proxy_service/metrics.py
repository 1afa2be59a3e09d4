"""Prometheus metrics of the gateway, summed over every gunicorn worker.

Under gunicorn each worker writes its samples to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and ``/metrics``
adds them up, so a scrape sees the whole gateway whichever worker answers it. Without
that variable (tests, a single process) the metrics live in a registry of their own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from cinema_common import multiproc

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class Metrics:
    """The gateway's counters and histograms, with label children cached for the request path."""

    def __init__(self) -> None:
        # In multiprocess mode the samples go to files, so the metrics join no registry.
        self.registry = multiproc.own_registry()
        registry = self.registry
        self._requests = Counter("gateway_requests", "Proxied requests by route, upstream and status class.",
                                 ["route", "upstream", "status_class"], registry=registry)
        self._duration = Histogram("gateway_request_duration_seconds",
                                   "Time from receiving a proxied request to its response headers.",
                                   ["route", "upstream"], buckets=_BUCKETS, registry=registry)
        self._fallbacks = Counter("gateway_fallbacks", "Movies requests served by the monolith instead, by reason.",
                                  ["reason"], registry=registry)
        self._overrides = Counter("gateway_overrides", "Requests routed by the X-Migration-Target header.",
                                  ["target"], registry=registry)
        self._upstream_errors = Counter("gateway_upstream_errors",
                                        "Requests a backend refused, let time out or answered with a broken response.",
                                        ["upstream", "kind"], registry=registry)
        self._circuit_opened = Counter("gateway_circuit_opened", "Times a worker's circuit breaker opened.",
                                       ["upstream"], registry=registry)
        # Every worker derives the same share from the settings, the ramp and the guard: the latest one set is it.
        self._movies_share = Gauge("gateway_movies_share_percent",
                                   "Share of /api/movies traffic sent to the movies service now (ramp and guard "
                                   "included).", registry=registry, multiprocess_mode="livemostrecent")
        self._ramp_step = Gauge("gateway_ramp_step", "Ramp plan step in force, from 1; 0 without a plan or before it.",
                                registry=registry, multiprocess_mode="livemostrecent")
        self._guard_tripped = Gauge("gateway_guard_tripped",
                                    "1 while a tripped guard holds the movies share at 0, else 0.",
                                    registry=registry, multiprocess_mode="livemax")
        self._guard_trips = Counter("gateway_guard_trips", "Times a worker's guard tripped on the movies service.",
                                    registry=registry)
        self._shadow = Counter("gateway_shadow_comparisons",
                               "Mirrored movies GETs by result: match, mismatch, error or skipped.",
                               ["route", "result"], registry=registry)
        self._children: dict[tuple[str, str, int], tuple] = {}

    def observe(self, route: str, upstream: str, status: int, seconds: float) -> None:
        """Count a proxied request and its latency."""
        key = (route, upstream, status // 100)
        children = self._children.get(key)
        if children is None:
            children = (self._requests.labels(route, upstream, _STATUS_CLASSES.get(status // 100, "other")),
                        self._duration.labels(route, upstream))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def fallback(self, reason: str) -> None:
        """Count a movies request served by the monolith instead."""
        self._fallbacks.labels(reason).inc()

    def override(self, target: str) -> None:
        """Count a request routed by ``X-Migration-Target``."""
        self._overrides.labels(target).inc()

    def upstream_error(self, upstream: str, kind: str) -> None:
        """Count a refused, timed-out or broken exchange with a backend."""
        self._upstream_errors.labels(upstream, kind).inc()

    def circuit_opened(self, upstream: str) -> None:
        """Count a circuit breaker opening."""
        self._circuit_opened.labels(upstream).inc()

    def migration_state(self, percent: int, ramp_step: int, tripped: bool) -> None:
        """Publish the movies share in force, the ramp step (from 1, 0 for none) and whether the guard holds."""
        self._movies_share.set(percent)
        self._ramp_step.set(ramp_step)
        self._guard_tripped.set(1 if tripped else 0)

    def guard_tripped(self) -> None:
        """Count a trip of this worker's guard."""
        self._guard_trips.inc()

    def shadow_result(self, route: str, result: str) -> None:
        """Count one shadow comparison's result."""
        self._shadow.labels(route, result).inc()

    def collect(self) -> list[Metric]:
        """Return the metric families of every worker, as ``/metrics`` shows them."""
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return list(registry.collect())

    def exposition(self) -> tuple[bytes, str]:
        """Return the text exposition format and its content type."""
        return multiproc.exposition(self.registry)
