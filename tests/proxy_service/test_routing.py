"""The routing decision as a pure function: paths, percentages, stickiness, override, circuit."""

from __future__ import annotations

import random

import pytest

from proxy_service.config import RoutingSettings
from proxy_service.routing import (
    BUCKETS,
    EVENTS,
    MONOLITH,
    MOVIES,
    BadOverride,
    bucket_of,
    choose_upstream,
    route_of,
)

SALT = "test-salt"


def always(value: float):
    return lambda: value


def decide(percent: int = 50, *, gradual: bool = True, override_enabled: bool = True, path: str = "/api/movies",
           rand: float = 0.5, available: bool = True, **kwargs):
    settings = RoutingSettings(gradual_migration=gradual, movies_migration_percent=percent,
                               override_enabled=override_enabled)
    return choose_upstream(route_of(path), settings, salt=SALT, random=always(rand),
                           movies_available=lambda: available, **kwargs)


@pytest.mark.parametrize(("path", "route"), [
    ("/api/movies", "movies"), ("/api/movies/", "movies"), ("/api/movies/7", "movies"),
    ("/api/movies/health", "movies"), ("/api/moviesX", "legacy"), ("/api/events", "events"),
    ("/api/events/movie", "events"), ("/api/eventsource", "legacy"), ("/api/users", "legacy"),
    ("/api/payments/1", "legacy"), ("/api", "legacy"), ("/api/", "legacy"),
    ("/health", None), ("/ready", None), ("/metrics", None), ("/", None), ("/apiary", None), ("/API/movies", None),
    ("//api/movies", "movies"), ("///api/events/x", "events"), ("//api/users", "legacy"), ("//health", None),
])
def test_routes_by_path(path, route):
    assert route_of(path) == route


@pytest.mark.parametrize(("path", "upstream"), [
    ("/api/events/movie", EVENTS), ("/api/users", MONOLITH), ("/api/payments", MONOLITH),
    ("/api/subscriptions", MONOLITH),
])
def test_other_routes_ignore_the_percentage(path, upstream):
    for percent in (0, 100):
        assert decide(percent, path=path, rand=0.0).upstream == upstream


@pytest.mark.parametrize(("percent", "rand", "upstream"), [
    (0, 0.0, MONOLITH), (0, 0.999, MONOLITH),
    (1, 0.0, MOVIES), (1, 0.0099, MOVIES), (1, 0.01, MONOLITH), (1, 0.5, MONOLITH),
    (99, 0.0, MOVIES), (99, 0.9899, MOVIES), (99, 0.99, MONOLITH), (99, 0.9999, MONOLITH),
    (100, 0.0, MOVIES), (100, 0.999999, MOVIES),
])
def test_requests_without_a_user_are_split_by_the_random_source(percent, rand, upstream):
    decision = decide(percent, rand=rand)
    assert (decision.upstream, decision.reason) == (upstream, "random")


@pytest.mark.parametrize("percent", [0, 1, 50, 99, 100])
def test_migration_finished_sends_all_movies_traffic_to_the_movies_service(percent):
    decision = decide(percent, gradual=False, rand=0.999, user_id="42")
    assert (decision.upstream, decision.reason) == (MOVIES, "migration-complete")


@pytest.mark.parametrize(("percent", "share"), [(0, 0.0), (1, 0.01), (30, 0.30), (99, 0.99), (100, 1.0)])
def test_user_buckets_follow_the_percentage(percent, share):
    users = [str(number) for number in range(20_000)]
    to_movies = sum(decide(percent, user_id=user).upstream == MOVIES for user in users)
    assert abs(to_movies / len(users) - share) <= 0.015


def test_the_same_user_gets_the_same_backend_every_time():
    for user in map(str, range(500)):
        assert len({decide(30, user_id=user, rand=rand).upstream for rand in (0.0, 0.3, 0.99)}) == 1


def test_raising_the_percentage_never_moves_a_user_back():
    users = [f"user-{number}" for number in range(1000)]
    previous: set[str] = set()
    for percent in range(101):
        on_movies = {user for user in users if decide(percent, user_id=user).upstream == MOVIES}
        assert previous <= on_movies, f"users left the movies service at {percent}%"
        previous = on_movies
    assert previous == set(users)


def test_buckets_are_many_salted_and_stable():
    assert BUCKETS >= 1000
    buckets = [bucket_of(str(user), SALT) for user in range(5000)]
    assert all(0 <= bucket < BUCKETS for bucket in buckets)
    assert len(set(buckets)) > 3000
    assert [bucket_of(str(user), SALT) for user in range(5000)] == buckets
    assert sum(a != b for a, b in zip(buckets, (bucket_of(str(user), "other") for user in range(5000)),
                                      strict=True)) > 4900


@pytest.mark.parametrize(("header", "upstream"), [("legacy", MONOLITH), ("new", MOVIES), ("NEW", MOVIES),
                                                  (" legacy ", MONOLITH)])
@pytest.mark.parametrize("percent", [0, 100])
def test_the_override_header_forces_the_backend(header, upstream, percent):
    decision = decide(percent, override=header, user_id="7")
    assert (decision.upstream, decision.reason, decision.forced) == (upstream, "override", True)


def test_the_override_wins_over_an_open_circuit():
    assert decide(100, override="new", available=False).upstream == MOVIES


def test_the_override_can_be_switched_off():
    decision = decide(0, override="new", override_enabled=False)
    assert (decision.upstream, decision.reason) == (MONOLITH, "random")
    assert decide(0, override="nonsense", override_enabled=False).upstream == MONOLITH


def test_an_unknown_override_is_refused():
    with pytest.raises(BadOverride):
        decide(50, override="beta")


@pytest.mark.parametrize("gradual", [True, False])
def test_an_open_circuit_sends_the_movies_share_to_the_monolith(gradual):
    decision = decide(100, gradual=gradual, available=False)
    assert (decision.upstream, decision.reason) == (MONOLITH, "circuit-open")


def test_the_circuit_is_asked_only_when_the_movies_service_is_chosen():
    asked = []
    settings = RoutingSettings(movies_migration_percent=0)
    choose_upstream("movies", settings, random=random.random, movies_available=lambda: asked.append(1) or True)
    choose_upstream("legacy", RoutingSettings(movies_migration_percent=100), random=random.random,
                    movies_available=lambda: asked.append(1) or True)
    assert asked == []


def test_random_is_drawn_only_for_anonymous_movies_requests():
    draws = []

    def draw() -> float:
        draws.append(1)
        return 0.5

    settings = RoutingSettings(movies_migration_percent=50)
    choose_upstream("movies", settings, user_id="9", random=draw)
    choose_upstream("legacy", settings, random=draw)
    assert draws == []
    choose_upstream("movies", settings, random=draw)
    assert draws == [1]
