"""The last minutes of the gateway's traffic, from the same samples ``/metrics`` shows, summed over the workers.

Every ``sample_seconds`` a snapshot of the cumulative counters is taken (a background
thread, a greenlet under gevent); the differences between consecutive snapshots give each
backend's request rate, error rate and p50/p99 latency per interval, the latter from the
latency histogram the way Prometheus's ``histogram_quantile`` computes it.

A movies request that failed and was then served by the monolith counts as a movies-service
request and error (from ``gateway_fallbacks_total``), and as a monolith request.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Metric

log = logging.getLogger(__name__)
KEPT_SECONDS = 600.0


@dataclass
class Snapshot:
    """Cumulative counts at one instant (POSIX time ``at``)."""

    at: float
    requests: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    errors: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    buckets: dict[str, dict[float, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    fallbacks: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    shadow: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    gauges: dict[str, float] = field(default_factory=dict)


def take_snapshot(families: Iterable[Metric], at: float, movies: str = "movies-service") -> Snapshot:
    """Sum the gateway's samples over routes and workers into one snapshot."""
    snapshot = Snapshot(at)
    for family in families:
        for sample in family.samples:
            labels, value = sample.labels, sample.value
            if sample.name == "gateway_requests_total":
                snapshot.requests[labels["upstream"]] += value
                if labels.get("status_class") == "5xx":
                    snapshot.errors[labels["upstream"]] += value
            elif sample.name == "gateway_request_duration_seconds_bucket":
                snapshot.buckets[labels["upstream"]][float(labels["le"])] += value
            elif sample.name == "gateway_fallbacks_total":
                snapshot.fallbacks[labels["reason"]] += value
            elif sample.name == "gateway_shadow_comparisons_total":
                snapshot.shadow[labels["result"]] += value
            elif family.type == "gauge" or sample.name in ("gateway_guard_trips_total", "gateway_circuit_opened_total"):
                snapshot.gauges[sample.name] = snapshot.gauges.get(sample.name, 0.0) + value
    failed_movies = sum(count for reason, count in snapshot.fallbacks.items() if reason != "circuit-open")
    snapshot.requests[movies] += failed_movies
    snapshot.errors[movies] += failed_movies
    return snapshot


def histogram_quantile(quantile: float, cumulative: dict[float, float]) -> float | None:
    """Return the ``quantile`` of a histogram given as upper bound -> cumulative count, None when it is empty."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return None
    total = cumulative[bounds[-1]]
    rank = quantile * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def interval(earlier: Snapshot, later: Snapshot, upstreams: Iterable[str]) -> dict[str, Any]:
    """Return the rates and latencies between two snapshots, per backend, with fallbacks and shadow results."""
    seconds = max(later.at - earlier.at, 1e-9)
    point: dict[str, Any] = {"t": later.at, "seconds": round(seconds, 3), "upstreams": {}}
    for name in upstreams:
        requests = later.requests.get(name, 0.0) - earlier.requests.get(name, 0.0)
        errors = later.errors.get(name, 0.0) - earlier.errors.get(name, 0.0)
        before, after = earlier.buckets.get(name, {}), later.buckets.get(name, {})
        delta = {bound: after[bound] - before.get(bound, 0.0) for bound in after}
        point["upstreams"][name] = {
            "requests": requests, "rps": round(requests / seconds, 3),
            "error_rate": round(errors / requests, 4) if requests > 0 else None,
            "p50": _rounded(histogram_quantile(0.5, delta)), "p99": _rounded(histogram_quantile(0.99, delta)),
        }
    point["fallbacks"] = {reason: count - earlier.fallbacks.get(reason, 0.0)
                          for reason, count in later.fallbacks.items()}
    point["shadow"] = {result: count - earlier.shadow.get(result, 0.0) for result, count in later.shadow.items()}
    return point


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 6)


class TrafficHistory:
    """Snapshots of the last ``KEPT_SECONDS``, taken every ``sample_seconds`` by a background thread."""

    def __init__(self, collect: Callable[[], Iterable[Metric]], upstreams: Iterable[str], *,
                 sample_seconds: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._collect = collect
        self.upstreams = tuple(upstreams)
        self.sample_seconds = sample_seconds
        self._clock = clock
        self._snapshots: deque[Snapshot] = deque(maxlen=max(2, int(KEPT_SECONDS / sample_seconds) + 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take a first snapshot now and the next ones in the background."""
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="traffic-history", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop taking snapshots."""
        self._stop.set()

    def sample(self) -> Snapshot:
        """Take a snapshot now and keep it."""
        snapshot = take_snapshot(self._collect(), self._clock())
        self._snapshots.append(snapshot)
        return snapshot

    def series(self) -> list[dict[str, Any]]:
        """Return one point per interval between kept snapshots, and one up to now, oldest first."""
        snapshots = list(self._snapshots)
        latest = take_snapshot(self._collect(), self._clock())
        if not snapshots or latest.at - snapshots[-1].at >= 0.5:
            snapshots.append(latest)
        return [interval(earlier, later, self.upstreams) for earlier, later in itertools.pairwise(snapshots)]

    def latest(self) -> Snapshot:
        """Return the totals now."""
        return take_snapshot(self._collect(), self._clock())

    def _loop(self) -> None:
        while not self._stop.wait(self.sample_seconds):
            try:
                self.sample()
            except OSError as error:
                # A metrics file being replaced mid-read: the next sample will do.
                log.warning("traffic snapshot failed", extra={"reason": str(error)})
