"""The ramp plan: parsing, the step in force at each instant, resuming, and sticky users only moving forward."""

from __future__ import annotations

import pytest

from cinema_common.env import ConfigError
from proxy_service.ramp import (
    RampPlan,
    format_instant,
    parse_instant,
    parse_ramp_steps,
    ramp_position,
    resumed_anchor,
)
from proxy_service.routing import BUCKETS, bucket_of

PLAN = RampPlan((5, 25, 50, 100), interval_seconds=60)


@pytest.mark.parametrize(("text", "steps"), [("5,25,50,100", (5, 25, 50, 100)), (" 10 , 10,100 ", (10, 10, 100)),
                                             ("", ()), ("0", (0,))])
def test_steps_parse(text, steps):
    assert parse_ramp_steps("MOVIES_RAMP_STEPS", text) == steps


@pytest.mark.parametrize("text", ["5,abc", "5,,25", "5,101", "-1,5", "50,25", "5;25"])
def test_bad_steps_name_the_variable(text):
    with pytest.raises(ConfigError, match="MOVIES_RAMP_STEPS"):
        parse_ramp_steps("MOVIES_RAMP_STEPS", text)


def test_instants_are_iso_8601_and_utc_without_an_offset():
    assert parse_instant("MOVIES_RAMP_START", "2026-12-01T22:00:00Z") == 1796162400.0
    assert parse_instant("MOVIES_RAMP_START", "2026-12-01T23:00:00+01:00") == 1796162400.0
    assert parse_instant("MOVIES_RAMP_START", "2026-12-01T22:00:00") == 1796162400.0
    assert parse_instant("MOVIES_RAMP_START", "") is None
    for bad in ("22:00", "tomorrow", "2026-13-01T00:00:00Z"):
        with pytest.raises(ConfigError, match="MOVIES_RAMP_START"):
            parse_instant("MOVIES_RAMP_START", bad)
    assert format_instant(1796162400.0) == "2026-12-01T22:00:00Z"


@pytest.mark.parametrize(("offset", "index", "percent", "next_change"), [
    (-10, -1, 0, 1000), (0, 0, 5, 1060), (59.9, 0, 5, 1060), (60, 1, 25, 1120), (179, 2, 50, 1180),
    (180, 3, 100, None), (10_000, 3, 100, None)])
def test_the_step_follows_the_clock(offset, index, percent, next_change):
    position = ramp_position(PLAN, 1000.0, 1000.0 + offset)
    assert (position.index, position.percent, position.next_change) == (index, percent, next_change)
    assert position.pending is (index < 0)


def test_two_workers_with_the_same_plan_agree_whenever_they_look():
    for now in range(900, 1300, 7):
        assert ramp_position(PLAN, 1000.0, now) == ramp_position(PLAN, 1000.0, float(now))


def test_a_resumed_plan_starts_the_step_it_reached_again():
    anchor = resumed_anchor(PLAN, 1, now=5000.0)
    assert ramp_position(PLAN, anchor, 5000.0).percent == 25
    assert ramp_position(PLAN, anchor, 5059.0).percent == 25
    assert ramp_position(PLAN, anchor, 5060.0).percent == 50


def test_sticky_users_only_move_towards_the_movies_service_as_the_ramp_rises():
    users = [f"user-{number}" for number in range(2000)]
    on_movies: set[str] = set()
    for now in range(1000, 1300, 15):
        percent = ramp_position(PLAN, 1000.0, now).percent
        now_on_movies = {user for user in users if bucket_of(user, "salt") < percent * BUCKETS // 100}
        assert on_movies <= now_on_movies
        on_movies = now_on_movies
    assert len(on_movies) == len(users)
