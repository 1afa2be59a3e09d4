"""Issue 3's figures: the gateway against (a) the bare Flask ceiling and (c) a naive proxy, same upstream."""

from __future__ import annotations

import statistics

from bench.harness import Bench, Target, wait_until_answering
from bench.report import Check, SectionResult

PATH = "/api/movies"


def gateway_section(bench: Bench) -> SectionResult:
    """Measure rps, p50, p99 of (a), (b), (c) side by side, then p50 of (a) and (b) at one connection."""
    upstream = bench.ceiling
    gateway = bench.start("gateway", "proxy_service.app:create_app()", {
        "MONOLITH_URL": upstream.url, "MOVIES_SERVICE_URL": upstream.url, "EVENTS_SERVICE_URL": upstream.url,
        "GRADUAL_MIGRATION": "true", "MOVIES_MIGRATION_PERCENT": "50"})
    naive = bench.start("naive", "bench.apps:naive_proxy_app()", {"NAIVE_UPSTREAM_URL": upstream.url})
    for server in (upstream, gateway, naive):
        wait_until_answering(server, PATH)
    targets = [
        Target("(a) ceiling: bare Flask", upstream, PATH),
        Target("(b) gateway", gateway, PATH, cpu_of=(gateway, upstream)),
        Target("(c) naive proxy", naive, PATH, cpu_of=(naive, upstream)),
    ]
    loaded = bench.compare(targets)
    single = bench.compare(targets[:2], connections=1)
    ceiling, proxied, naive_series = loaded
    per_round = [g.rps / c.rps for g, c in zip(proxied.samples, ceiling.samples, strict=True)]
    over_naive = [g.rps / n.rps for g, n in zip(proxied.samples, naive_series.samples, strict=True)]
    p50_gap = [g.p50_ms - c.p50_ms for g, c in zip(single[1].samples, single[0].samples, strict=True)]
    # The same ratio from CPU time per request, which other processes on the machine disturb far less.
    by_cpu = [c.cpu_us / g.cpu_us for g, c in zip(proxied.samples, ceiling.samples, strict=True)]
    return SectionResult(
        title=f"Gateway (issue 3): GET {PATH}, upstream = (a) itself",
        loaded=loaded,
        single=single,
        checks=[
            Check("gateway/ceiling rps", statistics.median(per_round), ">=", 0.40, per_round),
            Check("gateway/ceiling by CPU per request", statistics.median(by_cpu), ">=", 0.40, by_cpu),
            Check("gateway/naive rps", statistics.median(over_naive), ">=", 1.6, over_naive),
            Check("gateway p50 - ceiling p50 at 1 connection (ms)", statistics.median(p50_gap), "<=", 1.0, p50_gap),
        ],
    )
