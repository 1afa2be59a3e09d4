"""The safety net: GET/HEAD fall back to the monolith, the circuit opens and recovers, writes never replay."""

from __future__ import annotations

import time

import pytest

from tests.proxy_service.admin_port import ADMIN


@pytest.fixture
def all_to_movies(make_app):
    return make_app(movies_migration_percent=100, read_timeout_seconds=0.5).test_client()


def fallback_of(response) -> tuple[str, str | None, str | None]:
    return (response.headers["X-Upstream"], response.headers.get("X-Fallback-From"),
            response.headers.get("X-Fallback-Reason"))


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_from_the_movies_service_is_served_by_the_monolith(all_to_movies, backends, status):
    backends.movies.status = status
    response = all_to_movies.get("/api/movies?id=1")
    assert response.status_code == 200
    assert fallback_of(response) == ("monolith", "movies-service", f"status-{status}")
    assert response.get_json()["target"] == "/api/movies?id=1"
    assert len(backends.movies.received) == 1


def test_a_503_from_the_movies_service_is_its_answer_since_the_monolith_shares_its_database(all_to_movies,
                                                                                            backends):
    backends.movies.status = 503
    response = all_to_movies.get("/api/movies")
    assert (response.status_code, fallback_of(response)) == (503, ("movies-service", None, None))
    assert backends.monolith.received == []


def test_a_refused_movies_service_is_served_by_the_monolith(all_to_movies, backends):
    backends.movies.stop()
    response = all_to_movies.get("/api/movies")
    assert response.status_code == 200
    assert fallback_of(response) == ("monolith", "movies-service", "refused")


def test_a_slow_movies_service_is_served_by_the_monolith_after_the_read_timeout(all_to_movies, backends):
    backends.movies.delay = 3
    started = time.monotonic()
    response = all_to_movies.get("/api/movies")
    elapsed = time.monotonic() - started
    assert fallback_of(response) == ("monolith", "movies-service", "timeout")
    assert 0.45 <= elapsed < 1.2


def test_head_falls_back_too(all_to_movies, backends):
    backends.movies.status = 500
    response = all_to_movies.head("/api/movies")
    assert (response.status_code, fallback_of(response)) == (200, ("monolith", "movies-service", "status-500"))
    assert response.data == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_are_never_replayed(all_to_movies, backends, method):
    backends.movies.status = 503
    response = all_to_movies.open("/api/movies", method=method, json={"title": "t"})
    assert (response.status_code, response.headers["X-Upstream"]) == (503, "movies-service")
    assert "X-Fallback-From" not in response.headers
    assert [seen["method"] for seen in backends.movies.received] == [method]
    assert backends.monolith.received == []


def test_a_write_to_a_refused_movies_service_is_502_and_not_sent_elsewhere(all_to_movies, backends):
    backends.movies.stop()
    response = all_to_movies.post("/api/movies", json={"title": "t"})
    assert (response.status_code, response.headers["X-Upstream"]) == (502, "movies-service")
    assert backends.monolith.received == []


def test_fallback_can_be_switched_off(make_app, backends):
    client = make_app(movies_migration_percent=100, fallback_enabled=False).test_client()
    backends.movies.status = 503
    response = client.get("/api/movies")
    assert (response.status_code, response.headers["X-Upstream"]) == (503, "movies-service")
    backends.movies.stop()
    assert client.get("/api/movies").status_code == 502
    assert backends.monolith.received == []


def test_a_tester_forcing_the_movies_service_sees_its_real_answer(make_app, backends):
    client = make_app(movies_migration_percent=0).test_client()
    backends.movies.status = 503
    response = client.get("/api/movies", headers={"X-Migration-Target": "new"})
    assert (response.status_code, response.headers["X-Upstream"]) == (503, "movies-service")


def test_the_circuit_opens_after_consecutive_failures_and_recovers_after_the_cool_down(make_app, backends):
    client = make_app(movies_migration_percent=100, circuit_failure_threshold=3,
                      circuit_cooldown_seconds=0.3).test_client()
    backends.movies.status = 500
    reasons = [fallback_of(client.get("/api/movies"))[2] for _ in range(6)]
    assert reasons == ["status-500"] * 3 + ["circuit-open"] * 3
    assert len(backends.movies.received) == 3, "an open circuit sends nothing to the movies service"
    assert client.get("/ready", **ADMIN).get_json()["upstreams"]["movies-service"]["circuit"] == "open"

    time.sleep(0.35)
    assert fallback_of(client.get("/api/movies"))[2] == "status-500", "the probe fails: open again"
    assert fallback_of(client.get("/api/movies"))[2] == "circuit-open"

    backends.movies.status = None
    time.sleep(0.35)
    assert fallback_of(client.get("/api/movies")) == ("movies-service", None, None), "the probe succeeds"
    assert [fallback_of(client.get("/api/movies"))[0] for _ in range(5)] == ["movies-service"] * 5
    assert client.get("/ready", **ADMIN).get_json()["upstreams"]["movies-service"]["circuit"] == "closed"


def test_an_open_circuit_leaves_other_routes_alone(make_app, backends):
    client = make_app(movies_migration_percent=100, circuit_failure_threshold=1,
                      circuit_cooldown_seconds=30).test_client()
    backends.movies.stop()
    client.get("/api/movies")
    assert client.get("/api/users").headers["X-Upstream"] == "monolith"
    assert client.get("/api/events/x").headers["X-Upstream"] == "events-service"
    assert "X-Fallback-From" not in client.get("/api/users").headers
