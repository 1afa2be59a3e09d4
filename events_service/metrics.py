"""Prometheus metrics of the events service: what was produced and consumed, how fast, and how far behind.

Under gunicorn every worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` adds them up, whichever worker answers (see cinema_common/multiproc.py).
An app built outside gunicorn gets a registry of its own, so several apps in one test
process do not collide.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, current_app
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from cinema_common import multiproc
from events_service.events import TOPICS

_EXTENSION = "events.metrics"
# The *_created series double the output and no dashboard here reads them.
disable_created_metrics()
# Acks from a local broker take about a millisecond; the bound is seconds; both ends need buckets.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class EventMetrics:
    """The counters, histogram and gauges of one app."""

    def __init__(self) -> None:
        self.registry = multiproc.own_registry()
        self.produced = Counter("events_produced_total", "Events the broker acknowledged, by topic.",
                                ["topic"], registry=self.registry)
        self.produce_failures = Counter("events_produce_failures_total",
                                        "Events answered with 503, by topic and reason.",
                                        ["topic", "reason"], registry=self.registry)
        self.produce_latency = Histogram("events_produce_latency_seconds",
                                         "Time from accepting an event to the broker's acknowledgement.",
                                         ["topic"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.consumed = Counter("events_consumed_total", "Events consumed and logged, by topic.",
                                ["topic"], registry=self.registry)
        self.redelivered = Counter("events_redelivered_total",
                                   "Events delivered again after a rebalance and skipped, by topic.",
                                   ["topic"], registry=self.registry)
        self.undecodable = Counter("events_undecodable_total", "Records that were not event JSON, by topic.",
                                   ["topic"], registry=self.registry)
        self.broker_reachable = Gauge("events_broker_reachable",
                                      "1 while the Kafka broker answers every worker, else 0.",
                                      registry=self.registry, multiprocess_mode="livemin")
        # Each partition has one owner at a time; a worker reports 0 for the partitions it gave up.
        self._lag = Gauge("events_consumer_lag",
                          "Records in a partition not yet consumed by this service (highwater - position).",
                          ["topic", "partition"], registry=self.registry, multiprocess_mode="livesum")
        self._lag_reported: set[tuple[str, str]] = set()
        for topic in TOPICS:
            self.produced.labels(topic)
            self.consumed.labels(topic)

    def report_lag(self, lag: Iterable[tuple[str, int, int]]) -> None:
        """Set the lag of the ``(topic, partition, lag)`` this process owns; 0 for those it no longer owns."""
        owned = {(topic, str(partition)): behind for topic, partition, behind in lag}
        for labels in self._lag_reported - owned.keys():
            self._lag.labels(*labels).set(0)
        for labels, behind in owned.items():
            self._lag.labels(*labels).set(behind)
        self._lag_reported |= owned.keys()

    def render(self) -> Response:
        """Return every worker's samples in the Prometheus text format."""
        text, content_type = multiproc.exposition(self.registry)
        return Response(text, mimetype=None, content_type=content_type)


def init_app(app: Flask) -> EventMetrics:
    """Attach a fresh set of metrics to ``app``."""
    metrics = EventMetrics()
    app.extensions[_EXTENSION] = metrics
    return metrics


def metrics_of(app: Flask) -> EventMetrics:
    """Return the metrics attached by ``init_app``."""
    return app.extensions[_EXTENSION]


def metrics_view() -> Response:
    """Serve ``GET /metrics``."""
    return metrics_of(current_app).render()
