"""Issue 4's figures: events per second over HTTP with broker acks, beside the bare-Flask ceiling, and lost events.

The events service runs as it is meant to (events_service/gunicorn_conf.py): one gthread
worker. The harness serves every app with the gateway's gunicorn settings, so those three
settings are given here. The broker is a Tansu of its own on a free port.

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
THREADS = "16"
BURST = 1000
CATCH_UP_SECONDS = 60


def events_section(bench: Bench) -> SectionResult:
    """Measure POST /api/events/movie against the ceiling in the same rounds, then count lost events."""
    with kafka.running(free_port()) as bootstrap:
        events = bench.start("events", "events_service.app:create_app()", {
            "KAFKA_BROKERS": bootstrap, "KAFKA_CONSUMER_GROUP": f"bench-{os.getpid()}",
            "WEB_CONCURRENCY": "1", "GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": THREADS})
        try:
            wait_until_answering(events, "/api/events/ready", timeout=60)
            targets = [
                Target("(a) ceiling: bare Flask", bench.ceiling, "/api/movies"),
                Target("(e) events: POST, acked", events, PATH, method="POST", body=BODY,
                       headers=(("Content-Type", "application/json"),)),
            ]
            loaded = bench.compare(targets)
            burst_ids = _burst(events)
            records, consumed = _consumed_after_catching_up(events, bootstrap)
        finally:
            events.stop()
    ceiling, posted = loaded
    per_round = [e.rps / c.rps for e, c in zip(posted.samples, ceiling.samples, strict=True)]
    counts = Counter(consumed)
    lost = records - len(counts) + sum(1 for event_id in burst_ids if event_id not in counts)
    doubled = sum(count - 1 for count in counts.values())
    return SectionResult(
        title=(f"Events service (issue 4): POST {PATH}, one gthread worker x {THREADS} threads, acks=all on Tansu; "
               f"{records} events acknowledged by the broker, {len(counts)} consumed "
               f"(incl. a burst of {len(burst_ids)} checked by id)"),
        loaded=loaded,
        checks=[
            Check("events/ceiling rps", statistics.median(per_round), ">=", 0.25, per_round),
            Check("lost events (acknowledged, never consumed)", lost, "<=", 0),
            Check("events consumed twice", doubled, "<=", 0),
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


def _consumed_after_catching_up(events: Server, bootstrap: str) -> tuple[int, list[str]]:
    """Return the records in the broker and the event ids the service logged, once it caught up (bounded)."""
    records = _records_in_broker(bootstrap)
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while True:
        consumed = _consumed_ids(events)
        if len(consumed) >= records or time.monotonic() > deadline:
            return records, consumed
        time.sleep(0.5)


def _records_in_broker(bootstrap: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-counter")
    try:
        partitions = [TopicPartition(topic, partition) for topic in TOPICS
                      for partition in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def _consumed_ids(events: Server) -> list[str]:
    ids = []
    for line in events.log.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"event consumed"' in line:
            ids.append(json.loads(line)["event_id"])
    return ids
