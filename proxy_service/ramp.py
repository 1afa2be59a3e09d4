"""A ramp plan for the movies share: steps, time on each step, and the instant the first one starts.

The step in force is a pure function of the plan, an anchor instant and the clock, so every
worker and replica that reads the same plan computes the same step without talking to the
others. Steps never go down: a sticky user (bucketed by ``routing.bucket_of``) only ever moves
towards the movies service while the ramp runs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from cinema_common.env import ConfigError, parse_int


@dataclass(frozen=True, slots=True)
class RampPlan:
    """Percentages to send to the movies service, one after the other, ``interval_seconds`` each.

    ``start`` is the POSIX time the first step starts; None means "when this plan was first seen".
    """

    steps: tuple[int, ...]
    interval_seconds: float = 600.0
    start: float | None = None


@dataclass(frozen=True, slots=True)
class RampPosition:
    """Where a plan stands at an instant: the step's index (-1 before the start), its share, the next change."""

    index: int
    percent: int
    next_change: float | None

    @property
    def pending(self) -> bool:
        """Tell whether the first step has not started yet."""
        return self.index < 0


def parse_ramp_steps(name: str, text: str) -> tuple[int, ...]:
    """Parse ``5,25,50,100``: percentages from 0 to 100 that never go down; an empty text is no plan.

    :raises ConfigError: naming the variable and its value.
    """
    if not text.strip():
        return ()
    steps = []
    for part in text.split(","):
        try:
            steps.append(parse_int(name, part, minimum=0, maximum=100))
        except ConfigError:
            raise ConfigError(name, text, "comma-separated percentages from 0 to 100") from None
    if any(later < earlier for earlier, later in itertools.pairwise(steps)):
        raise ConfigError(name, text, "percentages that never go down (a ramp only moves users forward)")
    return tuple(steps)


def parse_instant(name: str, text: str) -> float | None:
    """Parse an ISO-8601 instant (``2026-12-01T22:00:00Z``) into POSIX time; empty is None.

    A time without an offset is UTC, never the host's local time, so every replica reads it alike.

    :raises ConfigError: for anything else.
    """
    if not text.strip():
        return None
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(name, text, "an ISO-8601 instant, such as 2026-12-01T22:00:00Z") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.timestamp()


def format_instant(posix: float | None) -> str | None:
    """Return POSIX time as an ISO-8601 UTC instant (``...Z``), None for None."""
    if posix is None:
        return None
    return datetime.fromtimestamp(posix, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ramp_position(plan: RampPlan, anchor: float, now: float) -> RampPosition:
    """Return the step in force at ``now`` for a plan whose first step started at ``anchor``."""
    if now < anchor:
        return RampPosition(-1, 0, anchor)
    elapsed_steps = (now - anchor) / plan.interval_seconds
    index = min(len(plan.steps) - 1, math.floor(elapsed_steps))
    last = index == len(plan.steps) - 1
    next_change = None if last else anchor + (index + 1) * plan.interval_seconds
    return RampPosition(index, plan.steps[index], next_change)


def resumed_anchor(plan: RampPlan, index: int, now: float) -> float:
    """Return the anchor that puts the plan at the start of step ``index`` at ``now`` (a paused ramp resuming)."""
    return now - max(index, 0) * plan.interval_seconds
