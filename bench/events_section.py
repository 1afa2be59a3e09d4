"""The events service's figures: one replica's events per second with broker acks, beside the ceiling; lost events.

The events service runs as it is deployed, with its own gunicorn configuration
(events_service/gunicorn_conf.py: one worker, the replica's producer and consumer
threads in it) and access log, beside the ceiling's gunicorn settings. The broker is a
Tansu of its own on a free port. Figures: events/s and p50/p99 under load, the
acknowledgement's p50 at one connection, and the ratio to the ceiling (floor 0.15).

Lost events are counted by consuming: after the load, every record the broker holds must
be logged by the service's consumer, once; and a burst of posts whose event ids are kept
must each appear in the consumer's log exactly once.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from bench.harness import Bench, Server, Target, wait_until_answering
from bench.report import Check, SectionResult
from devstack import kafka
from devstack.net import free_port
from events_service.events import TOPICS

PATH = "/api/events/movie"
BODY = json.dumps({"movie_id": 1, "title": "Solaris", "action": "viewed", "rating": 8.5, "genres": ["drama"]})
BURST = 1000
CATCH_UP_SECONDS = 60
# One replica is one process; Kafka scales the service by replicas (issue 14).
RPS_FLOOR = 0.15


def events_section(bench: Bench) -> SectionResult:
    """Measure POST /api/events/movie against the ceilings in the same rounds, then count lost events."""
    with kafka.running(free_port()) as bootstrap:
        events = bench.start("events", "events_service.app:create_app()", {
            "KAFKA_BROKERS": bootstrap, "KAFKA_CONSUMER_GROUP": f"bench-{os.getpid()}"},
            config="events_service.gunicorn_conf")
        try:
            wait_until_answering(events, "/api/events/ready", timeout=60)
            targets = [
                Target("(a) ceiling: bare Flask", bench.ceiling, "/api/movies"),
                Target("(e) events: POST, acked", events, PATH, method="POST", body=BODY,
                       headers=(("Content-Type", "application/json"),)),
            ]
            loaded = bench.compare(targets)
            # At one connection the events p50 is the acknowledgement's own latency, without queueing.
            single = bench.compare(targets, connections=1)
            burst_ids = _burst(events)
            in_broker = _ids_in_broker(bootstrap)
            consumed = _consumed_after_catching_up(events, in_broker)
        finally:
            events.stop()
    ceiling, posted = loaded
    per_round = [e.rps / c.rps for e, c in zip(posted.samples, ceiling.samples, strict=True)]
    counts = Counter(consumed)
    lost = len((in_broker | set(burst_ids)) - set(counts))
    return SectionResult(
        title=(f"Events service, one replica (one worker): POST {PATH}, acks=all on Tansu, its own gunicorn settings. "
               f"{len(in_broker)} events in the broker, all read back; {len(counts)} logged by the service's "
               f"consumers, including a burst of {len(burst_ids)} posted by id"),
        loaded=loaded,
        single=single,
        checks=[
            Check("events/ceiling rps", statistics.median(per_round), ">=", RPS_FLOOR, per_round),
            Check("lost events (acknowledged, never consumed)", lost, "<=", 0),
            Check("events consumed twice", sum(count - 1 for count in counts.values()), "<=", 0),
        ],
    )


def _burst(events: Server) -> list[str]:
    """Post ``BURST`` events of distinct movies; return the ids of those answered 201."""
    def post(movie: int) -> str | None:
        body = json.dumps({"movie_id": movie, "title": f"Movie {movie}", "action": "rated", "rating": 7}).encode()
        request = urllib.request.Request(events.url + PATH, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)["event"]["id"] if response.status == 201 else None
        except urllib.error.HTTPError:
            return None

    with ThreadPoolExecutor(8) as pool:
        return [event_id for event_id in pool.map(post, range(1, BURST + 1)) if event_id]


def _ids_in_broker(bootstrap: str) -> set[str]:
    """Read every record of the three topics with a consumer of our own; return the event ids.

    Read rather than counted: Tansu's latest offset can lag the last batch it acknowledged.
    """
    reader = KafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-reader", enable_auto_commit=False)
    try:
        reader.assign([TopicPartition(topic, partition) for topic in TOPICS
                       for partition in reader.partitions_for_topic(topic)])
        reader.seek_to_beginning()
        ids: set[str] = set()
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 2:
            for records in reader.poll(timeout_ms=500).values():
                ids.update(json.loads(record.value)["id"] for record in records)
                quiet_since = time.monotonic()
        return ids
    finally:
        reader.close()


def _consumed_after_catching_up(events: Server, expected: set[str]) -> list[str]:
    """Return the event ids the service logged, once it logged all of ``expected`` or after a bound."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        consumed = _consumed_ids(events)
        if expected <= set(consumed) or time.monotonic() > deadline:
            return consumed
        time.sleep(0.5)


def _consumed_ids(events: Server) -> list[str]:
    ids = []
    for line in events.log().splitlines():
        if line.startswith("{") and '"event consumed"' in line:
            ids.append(json.loads(line)["event_id"])
    return ids
