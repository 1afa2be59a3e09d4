"""``make bench``: one run, one machine, every figure side by side.

It starts the ceiling once (a bare Flask app under the gateway's gunicorn settings,
which is also the upstream every proxy in the run forwards to), then calls each
function in ``SECTIONS`` with the :class:`~bench.harness.Bench` and prints what it returns.

Adding a section (for example the events service's): write a function
``my_section(bench) -> SectionResult`` in its own module under ``bench/``; start what
it needs with ``bench.start(name, "package.app:create_app()", env)``; measure with
``bench.compare([Target(...), ...])`` (include ``Target(..., bench.ceiling, ...)`` to get
ratios taken in the same rounds); return a ``SectionResult`` with its ``Check`` list;
then append the function to ``SECTIONS`` below. ``Target`` takes a method, a body and
headers, so POST endpoints can be loaded too.
"""

from __future__ import annotations

import argparse
import os
import sys

from bench.events_section import events_section
from bench.gateway_section import gateway_section
from bench.harness import Bench, Settings
from bench.report import render

SECTIONS = [gateway_section, events_section]


def main() -> int:
    """Run every section and print its figures; exit 1 only with --strict and a missed target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_CONNECTIONS", "16")))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "3")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "5")))
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    settings = Settings(connections=args.connections, seconds=args.seconds, rounds=args.rounds)
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
    print(f"wrk -t1 -c{settings.connections}, {settings.seconds:g} s per target per round, {settings.rounds} "
          f"interleaved rounds; medians. Every server: gunicorn, {workers} workers, {worker_class} "
          f"(proxy_service.gunicorn_conf), but the events service: its own settings, one worker "
          f"(events_service.gunicorn_conf). {os.cpu_count()} CPUs, shared.", flush=True)
    missed = False
    with Bench(settings) as bench:
        for section in SECTIONS:
            result = section(bench)
            print("\n" + render(result, settings.connections), flush=True)
            missed = missed or not all(check.met for check in result.checks)
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
