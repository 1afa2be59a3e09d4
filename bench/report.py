"""What a benchmark section returns, and how it is printed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.harness import Series


@dataclass(frozen=True)
class Check:
    """A figure and its target: ``value`` should be ``op`` (``>=`` or ``<=``) ``target``."""

    label: str
    value: float
    op: str
    target: float
    rounds: list[float] = field(default_factory=list)

    @property
    def met(self) -> bool:
        """Tell whether the figure reaches its target."""
        return self.value >= self.target if self.op == ">=" else self.value <= self.target


@dataclass
class SectionResult:
    """A section's measurements under load, at one connection, and its checks."""

    title: str
    loaded: list[Series]
    single: list[Series] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    # The connections of ``loaded`` when the section chose its own; None means the run's setting.
    connections: int | None = None
    notes: list[str] = field(default_factory=list)


def render(result: SectionResult, connections: int) -> str:
    """Return the section as a plain-text table followed by its checks."""
    single = {entry.target.label: entry for entry in result.single}
    connections = result.connections or connections
    lines = [result.title, "",
             f"{'target':30} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu us/req':>11} {'1-conn p50 ms':>14}",
             f"{'':30} {f'({connections} connections)':>38}"]
    for entry in result.loaded:
        alone = single.get(entry.target.label)
        single_p50 = f"{alone.median('p50_ms'):.3f}" if alone else "-"
        lines.append(
            f"{entry.target.label:30} {entry.median('rps'):8.0f} {entry.median('p50_ms'):8.2f} "
            f"{entry.median('p99_ms'):8.2f} {entry.median('cpu_us'):11.0f} {single_p50:>14}")
        if len(entry.target.cpu_of) > 1:
            parts = " + ".join(
                f"{server.name} {statistics.median(sample.cpu_us_by_server[index] for sample in entry.samples):.0f}"
                for index, server in enumerate(entry.target.cpu_of))
            lines.append(f"{'':4}cpu us/req: {parts}")
        if entry.failures:
            lines.append(f"    ! {entry.failures} socket errors or non-2xx answers: figures are not trustworthy")
    lines.append("")
    for check in result.checks:
        rounds = " ".join(f"{value:.2f}" for value in check.rounds)
        verdict = "ok" if check.met else "MISSED"
        per_round = f"; per round {rounds}" if rounds else ""
        lines.append(f"{check.label:48} {check.value:6.2f}  (target {check.op} {check.target:g}: {verdict}{per_round})")
    lines.extend(result.notes)
    return "\n".join(lines)
