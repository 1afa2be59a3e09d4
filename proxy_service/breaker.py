"""A circuit breaker for one backend, per worker process.

Closed: requests flow; consecutive failures are counted and a success resets the count.
Open: after ``threshold`` consecutive failures the backend is skipped for ``cooldown``
seconds. Half-open: after the cool-down one request at a time is let through as a probe;
its success closes the circuit, its failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"


class CircuitBreaker:
    """Decides whether a backend may be tried, from the outcomes of the last requests to it."""

    def __init__(self, threshold: int, cooldown: float, *, probe_timeout: float,
                 clock: Callable[[], float] = time.monotonic,
                 on_open: Callable[[], None] = lambda: None) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        # A probe whose outcome never came (its worker thread died) must not block the circuit forever.
        self._probe_timeout = probe_timeout
        self._clock = clock
        self._on_open = on_open
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_started: float | None = None

    @property
    def state(self) -> str:
        """Return ``closed``, ``open`` or ``half-open``."""
        with self._lock:
            if self._opened_at is None:
                return CLOSED
            return OPEN if self._clock() < self._opened_at + self._cooldown else HALF_OPEN

    def allow(self) -> bool:
        """Tell whether a request may go to the backend now; in half-open state this claims the probe."""
        if self._opened_at is None:
            return True
        with self._lock:
            if self._opened_at is None:
                return True
            now = self._clock()
            if now < self._opened_at + self._cooldown:
                return False
            if self._probe_started is not None and now < self._probe_started + self._probe_timeout:
                return False
            self._probe_started = now
            return True

    def record_success(self) -> None:
        """Note a request the backend answered; closes the circuit."""
        if self._failures == 0 and self._opened_at is None:
            return
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probe_started = None

    def record_failure(self) -> None:
        """Note a refused, timed-out or 5xx request; opens the circuit at the threshold."""
        with self._lock:
            self._failures += 1
            reopen = self._opened_at is not None and self._probe_started is not None
            if not (reopen or (self._opened_at is None and self._failures >= self._threshold)):
                return
            self._opened_at = self._clock()
            self._probe_started = None
        self._on_open()
