"""Prometheus metrics of the events service: what was produced and consumed, how fast, and how far behind.

The service is one process (one gunicorn worker per replica), so its metrics live in one
registry of the app's own: several apps in one test process do not collide, and
``/metrics`` shows exactly this replica. Lag is read from the consumer threads at each scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from flask import Flask, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from events_service.events import TOPICS

_EXTENSION = "events.metrics"
# The *_created series double the output and no dashboard here reads them.
disable_created_metrics()
# Acks from a local broker take about a millisecond; the bound is seconds; both ends need buckets.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LagSource = Callable[[], Iterable[tuple[str, int, int]]]


class _LagCollector(Collector):
    """``events_consumer_lag`` of the partitions this replica's consumer threads own right now."""

    def __init__(self) -> None:
        self.sources: list[LagSource] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield one sample per owned partition: highwater minus position."""
        family = GaugeMetricFamily("events_consumer_lag",
                                   "Records in a partition not yet consumed by this replica (highwater - position).",
                                   labels=["topic", "partition"])
        for source in self.sources:
            for topic, partition, behind in source():
                family.add_metric([topic, str(partition)], behind)
        yield family


class EventMetrics:
    """The counters, histogram and gauges of one app, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
                                   "Events whose id was logged before (a redelivery or a retried publish), skipped.",
                                   ["topic"], registry=self.registry)
        self.undecodable = Counter("events_undecodable_total", "Records that were not event JSON, by topic.",
                                   ["topic"], registry=self.registry)
        self.broker_reachable = Gauge("events_broker_reachable", "1 while the Kafka broker answers, else 0.",
                                      registry=self.registry)
        self._lag = _LagCollector()
        self.registry.register(self._lag)
        for topic in TOPICS:
            self.produced.labels(topic)
            self.consumed.labels(topic)

    def watch_lag(self, source: LagSource) -> None:
        """Read ``(topic, partition, lag)`` triples from ``source`` at every scrape."""
        self._lag.sources.append(source)

    def render(self) -> Response:
        """Return the samples in the Prometheus text format."""
        return Response(generate_latest(self.registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)


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
