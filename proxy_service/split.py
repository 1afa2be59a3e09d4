"""The movies share in force: the routing settings, the ramp plan and the clock, held at 0 by a tripped guard.

Called once per request. A trip in one worker is written to the workers' shared files, and
the others adopt it at their next check, so the whole gateway holds the share at 0 within
``check_seconds``; a new ``GUARD_REARM`` releases it everywhere, and a ramp then resumes
from the step it had reached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from proxy_service.guard import Guard, Trip
from proxy_service.ramp import RampPlan, RampPosition, format_instant, ramp_position, resumed_anchor
from proxy_service.worker_files import WorkerFiles

log = logging.getLogger(__name__)
TRIP_FILE = "guard-trip.json"
FIXED, RAMP, COMPLETE, TRIPPED = "fixed", "ramp", "migration-complete", "guard-tripped"


class _State(Protocol):
    settings: Any
    source: str


class _Routing(Protocol):
    @property
    def state(self) -> _State: ...


@dataclass(frozen=True)
class Split:
    """The movies share in force, how it was decided (``mode``, ``source``) and where the ramp stands."""

    percent: int
    mode: str
    source: str
    origin: str
    plan: RampPlan | None = None
    position: RampPosition | None = None
    anchor: float | None = None

    def describe(self) -> dict[str, Any]:
        """Return the split as JSON-ready data for ``/status``."""
        ramp = None
        if self.plan is not None and self.position is not None:
            ramp = {"steps": list(self.plan.steps), "interval_seconds": self.plan.interval_seconds,
                    "start": format_instant(self.anchor), "index": self.position.index,
                    "step_percent": self.position.percent if not self.position.pending else None,
                    "next_change": format_instant(self.position.next_change), "held": self.mode == TRIPPED}
        return {"percent": self.percent, "mode": self.mode, "source": self.source, "origin": self.origin,
                "ramp": ramp}


class SplitController:
    """Decides the movies share for each request from the settings, the ramp, the clock and the guard."""

    def __init__(self, routing: _Routing, guard: Guard, *, files: WorkerFiles | None = None,
                 check_seconds: float = 1.0, clock: Callable[[], float] = time.time,
                 on_change: Callable[[Split], None] = lambda split: None) -> None:
        self.routing = routing
        self.guard = guard
        self._files = files or WorkerFiles(None)
        self._check_seconds = check_seconds
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._plan_key: tuple | None = None
        self._anchor = 0.0
        self._held_index = -1
        self._next_check = float("-inf")
        self._split: Split | None = None
        self._state: Any = None
        self._trip: Trip | None = None
        self._valid_until = float("-inf")
        self._released_at = float("-inf")
        self._last_trip: dict[str, Any] | None = None

    def current(self) -> Split:
        """Return the split in force now; the last answer is reused until the settings, the guard or a step change."""
        now = self._clock()
        state = self.routing.state
        split = self._split
        if split is not None and now < self._valid_until and state is self._state and self.guard.trip is self._trip:
            return split
        with self._lock:
            self._follow(state.settings, now)
            split = self._decide(state, now)
            changed = split != self._split
            self._split, self._state, self._trip = split, state, self.guard.trip
            change = split.position.next_change if split.position is not None else None
            self._valid_until = min(self._next_check, change if change is not None else float("inf"))
        if changed:
            self._on_change(split)
        return split

    def last_trip(self) -> dict[str, Any] | None:
        """Return the last trip of any worker (with the ramp step it held), even after a re-arm."""
        record = self._files.read(TRIP_FILE)
        return record if isinstance(record, dict) else self._last_trip

    def tripped(self, trip: Trip) -> None:
        """Record a trip of this worker's guard: log it and tell the other workers."""
        with self._lock:
            self._held_index = self._index_now()
        log.warning("guard tripped: movies share held at 0 until GUARD_REARM changes",
                    extra={"reason": trip.reason, "requests": trip.requests, "ramp_index": self._held_index})
        self._last_trip = {**asdict(trip), "ramp_index": self._held_index}
        self._files.write(TRIP_FILE, self._last_trip)

    def _follow(self, settings: Any, now: float) -> None:
        switched_off = self.guard.set_enabled(settings.guard_enabled)
        released = self.guard.rearm(settings.guard_rearm) or switched_off
        key = (settings.ramp_steps, settings.ramp_interval_seconds, settings.ramp_start)
        if key != self._plan_key:
            self._plan_key = key
            self._anchor = settings.ramp_start if settings.ramp_start is not None else now
            self._held_index = -1
        elif released and settings.ramp_steps:
            self._anchor = resumed_anchor(self._plan(settings), self._held_index, now)
        if released:
            self._released_at = now
            log.info("guard re-armed: the movies share follows the settings again",
                     extra={"resumed_ramp_index": self._held_index})
        if now >= self._next_check:
            self._next_check = now + self._check_seconds
            self._adopt(self._files.read(TRIP_FILE))

    def _adopt(self, record: Any) -> None:
        if not isinstance(record, dict):
            return
        try:
            trip = Trip(**{name: record[name] for name in Trip.__dataclass_fields__})
            index = int(record.get("ramp_index", -1))
        except (KeyError, TypeError, ValueError):
            return
        # A trip older than this worker's last release (GUARD_ENABLED switched off and on) is over.
        if trip.at > self._released_at and self.guard.adopt(trip):
            self._held_index = index
            self._last_trip = record
            log.info("guard trip of another worker adopted: movies share held at 0", extra={"reason": trip.reason})

    def _decide(self, state: _State, now: float) -> Split:
        settings, origin = state.settings, state.source
        plan = self._plan(settings) if settings.ramp_steps else None
        position = ramp_position(plan, self._anchor, now) if plan else None
        if self.guard.tripped:
            reason = self.guard.trip.reason if self.guard.trip else ""
            if plan is not None:
                position = RampPosition(self._held_index, 0, None)
            return Split(0, TRIPPED, f"guard tripped: {reason}", origin, plan, position, self._anchor)
        if not settings.gradual_migration:
            return Split(100, COMPLETE, "GRADUAL_MIGRATION=false: migration complete", origin)
        if plan is not None and position is not None:
            if position.pending:
                source = f"ramp starts at {format_instant(self._anchor)}"
            else:
                source = f"ramp step {position.index + 1} of {len(plan.steps)}"
            return Split(position.percent, RAMP, source, origin, plan, position, self._anchor)
        return Split(settings.movies_migration_percent, FIXED, "MOVIES_MIGRATION_PERCENT", origin)

    def _index_now(self) -> int:
        split = self._split
        if split is None or split.position is None:
            return -1
        if split.plan is not None and split.mode == RAMP:
            return ramp_position(split.plan, self._anchor, self._clock()).index
        return split.position.index

    @staticmethod
    def _plan(settings: Any) -> RampPlan:
        return RampPlan(settings.ramp_steps, settings.ramp_interval_seconds, settings.ramp_start)
