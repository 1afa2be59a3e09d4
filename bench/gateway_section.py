"""Issue 13's figures: the gateway against (a) bare Flask, (c) a naive proxy and (d) a pooled requests.Session.

All four run in the same rounds against one loopback upstream, (a) itself. Then (a), (b)
and (d) at one connection, and a 200 MiB response streamed through the gateway while its
workers' peak resident memory is read from ``/proc``.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from pathlib import Path

from bench.apps import STREAM_BYTES
from bench.harness import Bench, Server, Target, wait_until_answering
from bench.report import Check, SectionResult

PATH = "/api/movies"
STREAM_PATH = "/api/stream"
CONNECTIONS = 64
PEAK_RSS_LIMIT_MIB = 150


def gateway_section(bench: Bench) -> SectionResult:
    """Measure rps, p50, p99 of (a) to (d) at 64 connections, (a), (b) and (d) at one, and a 200 MiB stream."""
    upstream = bench.ceiling
    gateway = bench.start("gateway", "proxy_service.app:create_app()", {
        "MONOLITH_URL": upstream.url, "MOVIES_SERVICE_URL": upstream.url, "EVENTS_SERVICE_URL": upstream.url,
        "GRADUAL_MIGRATION": "true", "MOVIES_MIGRATION_PERCENT": "50"})
    naive = bench.start("naive", "bench.apps:naive_proxy_app()", {"NAIVE_UPSTREAM_URL": upstream.url})
    session = bench.start("session", "bench.apps:session_proxy_app()", {"NAIVE_UPSTREAM_URL": upstream.url})
    for server in (upstream, gateway, naive, session):
        wait_until_answering(server, PATH)
    targets = [
        Target("(a) ceiling: bare Flask", upstream, PATH),
        Target("(b) gateway", gateway, PATH, cpu_of=(gateway, upstream)),
        Target("(c) naive proxy", naive, PATH, cpu_of=(naive, upstream)),
        Target("(d) pooled requests.Session", session, PATH, cpu_of=(session, upstream)),
    ]
    loaded = bench.compare(targets, connections=CONNECTIONS)
    # (d) at one connection too: the latency floor of forwarding with requests, beside (b)'s.
    single = bench.compare([targets[0], targets[1], targets[3]], connections=1)
    ceiling, proxied, naive_series, session_series = loaded
    over_session = [g.rps / d.rps for g, d in zip(proxied.samples, session_series.samples, strict=True)]
    over_naive = [g.rps / n.rps for g, n in zip(proxied.samples, naive_series.samples, strict=True)]
    over_ceiling = [g.rps / c.rps for g, c in zip(proxied.samples, ceiling.samples, strict=True)]
    p50_gap = [g.p50_ms - c.p50_ms for g, c in zip(single[1].samples, single[0].samples, strict=True)]
    floor_gap = [d.p50_ms - c.p50_ms for d, c in zip(single[2].samples, single[0].samples, strict=True)]
    seconds, peak_mib = stream_through(gateway)
    return SectionResult(
        title=f"Gateway (issue 13): GET {PATH}, upstream = (a) itself",
        loaded=loaded,
        single=single,
        connections=CONNECTIONS,
        checks=[
            Check("gateway/pooled Session rps, b/d", statistics.median(over_session), ">=", 1.0, over_session),
            Check("gateway/naive rps, b/c", statistics.median(over_naive), ">=", 1.5, over_naive),
            Check("gateway p50 - ceiling p50 at 1 connection (ms)", statistics.median(p50_gap), "<=", 1.0, p50_gap),
            Check(f"gateway worker peak RSS, 200 MiB streamed in {seconds:.1f} s (MiB)", peak_mib, "<=",
                  PEAK_RSS_LIMIT_MIB),
        ],
        notes=[f"gateway/ceiling rps, b/a (no target): {statistics.median(over_ceiling):.2f}",
               f"pooled Session p50 - ceiling p50 at 1 connection, d - a (no target): "
               f"{statistics.median(floor_gap):.2f} ms"],
    )


def stream_through(gateway: Server) -> tuple[float, float]:
    """Read a 200 MiB response through the gateway; return the seconds it took and its workers' peak RSS in MiB.

    :raises SystemExit: when the body does not arrive whole.
    """
    started = time.perf_counter()
    received = 0
    with urllib.request.urlopen(gateway.url + STREAM_PATH, timeout=60) as response:
        while piece := response.read(1 << 20):
            received += len(piece)
    elapsed = time.perf_counter() - started
    if received != STREAM_BYTES:
        raise SystemExit(f"the streamed response was {received} bytes, not {STREAM_BYTES}")
    return elapsed, max(peak_rss_mib(pid) for pid in worker_pids(gateway))


def worker_pids(server: Server) -> list[int]:
    """Return the pids of a gunicorn master's workers."""
    pid = server.process.pid
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def peak_rss_mib(pid: int) -> float:
    """Return a process's peak resident set size (``VmHWM``) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
