"""The guard's sliding window, with an injected clock: arming, tripping on errors or p99, holding, re-arming."""

from __future__ import annotations

import pytest

from proxy_service.guard import ARMED, COLLECTING, DISABLED, TRIPPED, Guard, GuardLimits, Trip


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_guard(clock: Clock, trips: list[Trip] | None = None, **limits: object) -> Guard:
    settings = {"window_seconds": 10.0, "min_requests": 20, "max_error_rate": 0.05, "max_p99_seconds": 1.0, **limits}
    return Guard(GuardLimits(**settings), clock=clock, wall_clock=clock,
                 on_trip=(trips.append if trips is not None else lambda trip: None))


def feed(guard: Guard, clock: Clock, count: int, *, failed: bool = False, seconds: float = 0.01,
         step: float = 0.0) -> None:
    for _ in range(count):
        guard.record(failed, seconds)
        clock.now += step


def test_fewer_answers_than_the_minimum_decide_nothing(clock):
    guard = make_guard(clock)
    feed(guard, clock, 19, failed=True)
    assert (guard.state, guard.tripped) == (COLLECTING, False)


def test_it_arms_with_enough_answers_and_stays_armed_while_they_are_good(clock):
    guard = make_guard(clock)
    feed(guard, clock, 100)
    feed(guard, clock, 5, failed=True)
    assert guard.state == ARMED
    assert guard.counts().requests == 105


def test_an_error_rate_over_the_limit_trips_it_once(clock):
    trips: list[Trip] = []
    guard = make_guard(clock, trips)
    feed(guard, clock, 18)
    feed(guard, clock, 2, failed=True)
    assert guard.state == TRIPPED
    assert len(trips) == 1
    assert trips[0].requests == 20
    assert trips[0].error_rate == pytest.approx(0.10)
    assert "error rate 10.0% over 5.0%" in trips[0].reason
    feed(guard, clock, 50, failed=True)
    assert len(trips) == 1


def test_exactly_the_limit_does_not_trip(clock):
    guard = make_guard(clock)
    feed(guard, clock, 19)
    feed(guard, clock, 1, failed=True)
    assert guard.state == ARMED


def test_a_p99_over_the_limit_trips_it(clock):
    trips: list[Trip] = []
    guard = make_guard(clock, trips)
    feed(guard, clock, 198, seconds=0.2)
    feed(guard, clock, 2, seconds=1.5)
    assert guard.state == ARMED
    feed(guard, clock, 1, seconds=1.5)
    assert guard.state == TRIPPED
    assert "p99 latency over 1 s" in trips[0].reason


def test_old_answers_leave_the_window(clock):
    guard = make_guard(clock)
    feed(guard, clock, 30, failed=True, seconds=0.01, step=0.0)
    assert guard.state == TRIPPED
    quiet = make_guard(clock)
    feed(quiet, clock, 19, failed=True)
    clock.now += 11
    assert quiet.counts().requests == 0
    feed(quiet, clock, 19)
    feed(quiet, clock, 1, failed=True)
    assert quiet.state == ARMED


def test_a_trip_holds_until_the_token_changes(clock):
    guard = make_guard(clock)
    feed(guard, clock, 20, failed=True)
    clock.now += 3600
    assert guard.tripped
    assert guard.rearm("") is False
    assert guard.tripped
    assert guard.rearm("after-fix-1") is True
    assert (guard.state, guard.counts().requests) == (COLLECTING, 0)
    feed(guard, clock, 20, failed=True)
    assert guard.tripped
    assert guard.trip.rearm_token == "after-fix-1"


def test_a_trip_of_another_worker_is_adopted_only_under_the_same_token(clock):
    guard = make_guard(clock)
    old = Trip("error rate", 1.0, 20, 0.5, 0.0, rearm_token="old")
    assert guard.adopt(old) is False
    assert guard.adopt(Trip("error rate", 1.0, 20, 0.5, 0.0, rearm_token="")) is True
    assert guard.state == TRIPPED


def test_a_disabled_guard_never_trips_and_disabling_releases_a_trip(clock):
    guard = make_guard(clock, enabled=False)
    feed(guard, clock, 50, failed=True)
    assert guard.state == DISABLED
    guard.set_enabled(True)
    feed(guard, clock, 50, failed=True)
    assert guard.tripped
    assert guard.set_enabled(False) is True
    assert guard.state == DISABLED
