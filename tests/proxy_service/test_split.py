"""The split in force: fixed share, ramp on the clock, a trip holding it at 0, re-arming, and sharing a trip."""

from __future__ import annotations

import dataclasses
import logging
from types import SimpleNamespace

import pytest

from proxy_service.config import RoutingSettings
from proxy_service.guard import Guard, GuardLimits
from proxy_service.split import COMPLETE, FIXED, RAMP, TRIPPED, SplitController
from proxy_service.worker_files import WorkerFiles


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Routing:
    def __init__(self, settings: RoutingSettings, source: str = "environment") -> None:
        self.state = SimpleNamespace(settings=settings, source=source)

    def set(self, **changes: object) -> None:
        self.state = SimpleNamespace(settings=dataclasses.replace(self.state.settings, **changes),
                                     source=self.state.source)


def build(clock: Clock, files: WorkerFiles | None = None, **settings: object):
    routing = Routing(RoutingSettings(**settings))
    guard = Guard(GuardLimits(window_seconds=10, min_requests=5), clock=clock, wall_clock=clock)
    controller = SplitController(routing, guard, files=files, check_seconds=1.0, clock=clock)
    guard.on_trip = controller.tripped
    return routing, guard, controller


def fail(guard: Guard, count: int = 5) -> None:
    for _ in range(count):
        guard.record(True, 0.01)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_fixed_share_comes_from_the_settings(clock):
    _, _, controller = build(clock, movies_migration_percent=30)
    split = controller.current()
    assert (split.percent, split.mode, split.source, split.origin) == (30, FIXED, "MOVIES_MIGRATION_PERCENT",
                                                                       "environment")


def test_a_finished_migration_sends_everything_to_the_movies_service(clock):
    _, _, controller = build(clock, gradual_migration=False)
    assert (controller.current().percent, controller.current().mode) == (100, COMPLETE)


def test_a_ramp_moves_the_share_on_schedule(clock):
    _, _, controller = build(clock, ramp_steps=(5, 25, 100), ramp_interval_seconds=60.0, ramp_start=1000.0)
    seen = []
    for offset in (0, 30, 60, 119, 120, 500):
        clock.now = 1000.0 + offset
        seen.append(controller.current().percent)
    assert seen == [5, 5, 25, 25, 100, 100]
    split = controller.current()
    assert (split.mode, split.source) == (RAMP, "ramp step 3 of 3")
    assert split.describe()["ramp"]["start"] == "1970-01-01T00:16:40Z"


def test_a_ramp_without_a_start_begins_when_the_plan_is_first_seen(clock):
    routing, _, controller = build(clock, ramp_steps=(10, 50), ramp_interval_seconds=60.0)
    clock.now = 5000.0
    routing.set(ramp_steps=(20, 40, 60))
    assert controller.current().percent == 20
    clock.now = 5061.0
    assert controller.current().percent == 40


def test_a_ramp_that_starts_later_sends_nothing_yet(clock):
    _, _, controller = build(clock, ramp_steps=(10, 50), ramp_start=2000.0)
    split = controller.current()
    assert (split.percent, split.source) == (0, "ramp starts at 1970-01-01T00:33:20Z")


def test_a_trip_holds_the_share_at_zero_and_the_ramp_resumes_from_its_step(clock, caplog):
    routing, guard, controller = build(clock, ramp_steps=(5, 25, 50, 100), ramp_interval_seconds=60.0,
                                       ramp_start=1000.0)
    clock.now = 1070.0
    assert controller.current().percent == 25
    with caplog.at_level(logging.WARNING, logger="proxy_service.split"):
        fail(guard)
    assert any("guard tripped" in record.message for record in caplog.records)
    clock.now = 1500.0
    split = controller.current()
    assert (split.percent, split.mode) == (0, TRIPPED)
    assert split.describe()["ramp"] == {**split.describe()["ramp"], "index": 1, "held": True}
    routing.set(guard_rearm="fixed the index")
    assert controller.current().percent == 25
    clock.now = 1559.0
    assert controller.current().percent == 25
    clock.now = 1560.0
    assert controller.current().percent == 50
    assert controller.last_trip()["ramp_index"] == 1


def test_a_trip_without_a_ramp_returns_to_the_fixed_share_after_a_rearm(clock):
    routing, guard, controller = build(clock, movies_migration_percent=40)
    controller.current()
    fail(guard)
    assert controller.current().percent == 0
    routing.set(guard_rearm="1")
    assert controller.current().percent == 40


def test_a_trip_of_one_worker_reaches_the_others_through_their_shared_files(clock, tmp_path):
    files = WorkerFiles(tmp_path)
    _, first_guard, first = build(clock, files, movies_migration_percent=40)
    second_routing, second_guard, second = build(clock, files, movies_migration_percent=40)
    assert (first.current().percent, second.current().percent) == (40, 40)
    fail(first_guard)
    assert second.current().percent == 40
    clock.now += 1.0
    assert second.current().percent == 0
    assert second_guard.trip.reason == first_guard.trip.reason
    second_routing.set(guard_rearm="again")
    clock.now += 1.0
    assert second.current().percent == 40


def test_switching_the_guard_off_releases_a_trip_for_good(clock, tmp_path):
    files = WorkerFiles(tmp_path)
    routing, guard, controller = build(clock, files, movies_migration_percent=40)
    controller.current()
    fail(guard)
    assert controller.current().percent == 0
    clock.now += 1.0
    routing.set(guard_enabled=False)
    assert controller.current().percent == 40
    clock.now += 1.0
    routing.set(guard_enabled=True)
    clock.now += 1.0
    assert controller.current().percent == 40, "the old trip in the shared file is not adopted again"
