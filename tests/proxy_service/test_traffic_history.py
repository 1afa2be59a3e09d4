"""The dashboard's history: snapshots of the gateway's own metrics, rates and quantiles per interval."""

from __future__ import annotations

import pytest

from proxy_service.metrics import Metrics
from proxy_service.traffic_history import TrafficHistory, histogram_quantile, take_snapshot

UPSTREAMS = ("monolith", "movies-service", "events-service")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_quantiles_interpolate_within_a_bucket_like_prometheus():
    cumulative = {0.1: 50.0, 0.2: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.5, cumulative) == pytest.approx(0.1)
    assert histogram_quantile(0.75, cumulative) == pytest.approx(0.15)
    assert histogram_quantile(0.99, {0.1: 0.0, 1.0: 0.0, float("inf"): 10.0}) == 1.0
    assert histogram_quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None


def test_rates_errors_and_latency_per_backend_between_snapshots():
    metrics, clock = Metrics(), Clock()
    history = TrafficHistory(metrics.registry.collect, UPSTREAMS, sample_seconds=5, clock=clock)
    history.sample()
    for _ in range(90):
        metrics.observe("movies", "monolith", 200, 0.004)
    for _ in range(10):
        metrics.observe("movies", "monolith", 502, 0.3)
    for _ in range(20):
        metrics.observe("movies", "movies-service", 200, 0.02)
    metrics.fallback("status-500")
    metrics.fallback("circuit-open")
    clock.now += 10
    [point] = history.series()
    monolith, movies = point["upstreams"]["monolith"], point["upstreams"]["movies-service"]
    assert (monolith["requests"], monolith["rps"], monolith["error_rate"]) == (100, 10.0, 0.1)
    assert 0.0025 < monolith["p50"] <= 0.005
    assert 0.25 < monolith["p99"] <= 0.5
    # The failed movies request that fell back counts for the movies service; the skipped one does not.
    assert (movies["requests"], movies["error_rate"]) == (21, round(1 / 21, 4))
    assert point["upstreams"]["events-service"] == {"requests": 0, "rps": 0.0, "error_rate": None,
                                                    "p50": None, "p99": None}
    assert point["fallbacks"] == {"status-500": 1, "circuit-open": 1}


def test_the_series_grows_one_point_per_sample():
    metrics, clock = Metrics(), Clock()
    history = TrafficHistory(metrics.registry.collect, UPSTREAMS, sample_seconds=5, clock=clock)
    for _ in range(4):
        history.sample()
        metrics.observe("legacy", "monolith", 200, 0.01)
        clock.now += 5
    series = history.series()
    assert [point["t"] for point in series] == [1005.0, 1010.0, 1015.0, 1020.0]
    assert [point["upstreams"]["monolith"]["requests"] for point in series] == [1, 1, 1, 1]
    assert take_snapshot(metrics.registry.collect(), clock.now).requests["monolith"] == 4
