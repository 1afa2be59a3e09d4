"""The guard: watches the movies service's answers over a sliding window and trips when they go bad.

Each answer is recorded with whether it failed (5xx, refused, timed out) and how long it took.
With at least ``min_requests`` answers in the window the guard is armed, and it trips when
the failed share passes ``max_error_rate`` or the p99 latency passes ``max_p99_seconds``.
The p99 passes a limit exactly when more than 1 % of the answers took longer, so the window
keeps counts per time slice (answers, failures, slow answers), never the latencies.

A trip holds until ``rearm`` is called with a token other than the one it tripped under.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

DISABLED = "disabled"
COLLECTING = "collecting"
ARMED = "armed"
TRIPPED = "tripped"
_SLICES = 20


@dataclass(frozen=True)
class GuardLimits:
    """When the guard trips; the defaults are the contract's."""

    enabled: bool = True
    window_seconds: float = 60.0
    min_requests: int = 20
    max_error_rate: float = 0.05
    max_p99_seconds: float = 1.0


@dataclass(frozen=True)
class Trip:
    """Why and when (POSIX time) the guard tripped, and what the window held then."""

    reason: str
    at: float
    requests: int
    error_rate: float
    slow_rate: float
    rearm_token: str


@dataclass(frozen=True)
class WindowCounts:
    """The answers in the window: how many, and the shares that failed or were slow."""

    requests: int
    error_rate: float
    slow_rate: float


class Guard:
    """A sliding window over one worker's movies-service answers, with a trip that holds until re-armed."""

    def __init__(self, limits: GuardLimits, *, rearm_token: str = "", clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, on_trip: Callable[[Trip], None] = lambda trip: None,
                 ) -> None:
        self.limits = limits
        self._clock = clock
        self._wall_clock = wall_clock
        self.on_trip = on_trip
        self._slice_seconds = limits.window_seconds / _SLICES
        self._lock = threading.Lock()
        # Each slice: [slice number, answers, failures, slow answers].
        self._slices: deque[list[int]] = deque()
        self._totals = [0, 0, 0]
        self._token = rearm_token
        self.enabled = limits.enabled
        self.trip: Trip | None = None

    @property
    def state(self) -> str:
        """Return ``disabled``, ``collecting`` (too few answers), ``armed`` or ``tripped``."""
        if self.trip is not None:
            return TRIPPED
        if not self.enabled:
            return DISABLED
        return ARMED if self.counts().requests >= self.limits.min_requests else COLLECTING

    @property
    def token(self) -> str:
        """Return the re-arm token in force."""
        return self._token

    @property
    def tripped(self) -> bool:
        """Tell whether the guard holds the movies share at 0."""
        return self.trip is not None

    def counts(self) -> WindowCounts:
        """Return what the window holds now."""
        with self._lock:
            self._evict(self._clock())
            answers, failures, slow = self._totals
        if not answers:
            return WindowCounts(0, 0.0, 0.0)
        return WindowCounts(answers, failures / answers, slow / answers)

    def record(self, failed: bool, seconds: float) -> None:
        """Note one movies-service answer; trips the guard when the window has gone bad."""
        if not self.enabled or self.trip is not None:
            return
        now = self._clock()
        number = int(now // self._slice_seconds)
        slow = seconds > self.limits.max_p99_seconds
        with self._lock:
            self._evict(now)
            if not self._slices or self._slices[-1][0] != number:
                self._slices.append([number, 0, 0, 0])
            latest = self._slices[-1]
            for position, value in enumerate((1, int(failed), int(slow)), start=1):
                latest[position] += value
                self._totals[position - 1] += value
            reason = self._verdict()
            if reason is None:
                return
            answers, failures, slow_answers = self._totals
            self.trip = Trip(reason, self._wall_clock(), answers, failures / answers, slow_answers / answers,
                             self._token)
        self.on_trip(self.trip)

    def adopt(self, trip: Trip) -> bool:
        """Take over a trip another worker made under the token in force; return whether this changed anything."""
        if self.trip is not None or trip.rearm_token != self._token or not self.enabled:
            return False
        self.trip = trip
        return True

    def rearm(self, token: str) -> bool:
        """Re-arm a tripped guard if ``token`` differs from the one it tripped under; return whether it did."""
        if token == self._token:
            return False
        self._token = token
        return self._clear()

    def set_enabled(self, enabled: bool) -> bool:
        """Turn the guard on or off; turning it off releases a trip. Return whether a trip was released."""
        if enabled == self.enabled:
            return False
        self.enabled = enabled
        return False if enabled else self._clear()

    def _clear(self) -> bool:
        with self._lock:
            self._slices.clear()
            self._totals = [0, 0, 0]
        was_tripped, self.trip = self.trip is not None, None
        return was_tripped

    def _evict(self, now: float) -> None:
        oldest = int((now - self.limits.window_seconds) // self._slice_seconds)
        while self._slices and self._slices[0][0] <= oldest:
            _, answers, failures, slow = self._slices.popleft()
            self._totals[0] -= answers
            self._totals[1] -= failures
            self._totals[2] -= slow

    def _verdict(self) -> str | None:
        answers, failures, slow = self._totals
        if answers < self.limits.min_requests:
            return None
        if failures / answers > self.limits.max_error_rate:
            return (f"error rate {failures / answers:.1%} over {self.limits.max_error_rate:.1%} "
                    f"({failures} of {answers} answers in {self.limits.window_seconds:g} s)")
        if slow / answers > 0.01:
            return (f"p99 latency over {self.limits.max_p99_seconds:g} s "
                    f"({slow} of {answers} answers slower in {self.limits.window_seconds:g} s)")
        return None
