"""End to end: the gateway under gunicorn in front of the real monolith and movies service on PostgreSQL."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.proxy_service.backends import GunicornGateway, GunicornServer, unused_url


@pytest.fixture
def stack(database_url: str, tmp_path) -> Iterator[SimpleNamespace]:
    """Monolith, movies service and gateway (30 % to the movies service), each under its own gunicorn."""
    database = {"DB_CONNECTION_STRING": database_url, "WEB_CONCURRENCY": "1"}
    started: list[GunicornServer] = []
    try:
        monolith = GunicornServer("monolith", database, tmp_path / "monolith.log")
        started.append(monolith)
        movies = GunicornServer("movies_service", database, tmp_path / "movies.log")
        started.append(movies)
        gateway = GunicornGateway({
            "MONOLITH_URL": f"http://127.0.0.1:{monolith.port}", "MOVIES_SERVICE_URL": f"http://127.0.0.1:{movies.port}",
            "EVENTS_SERVICE_URL": unused_url(), "MOVIES_MIGRATION_PERCENT": "30"}, tmp_path / "gateway.log")
        started.append(gateway)
        yield SimpleNamespace(gateway=gateway)
    finally:
        for server in reversed(started):
            server.stop()


def call(stack, path: str, *, method: str = "GET", body: dict | None = None, base: str | None = None,
         **headers: str):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base or stack.gateway.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, json.loads(error.read())


def test_movies_are_split_sticky_and_shared_through_the_gateway(stack):
    status, headers, movies = call(stack, "/api/movies")
    assert status == 200
    assert headers["X-Upstream"] in {"monolith", "movies-service"}
    assert movies and {"id", "title", "description", "genres", "rating"} <= movies[0].keys()

    upstreams = Counter(call(stack, "/api/movies")[1]["X-Upstream"] for _ in range(300))
    # Binomial(300, 0.3): mean 90, standard deviation 7.9; 5 deviations either side.
    assert 50 <= upstreams["movies-service"] <= 130, upstreams

    for user in ("1", "2", "3", "alice"):
        assert len({call(stack, "/api/movies", **{"X-User-Id": user})[1]["X-Upstream"] for _ in range(8)}) == 1

    status, headers, created = call(stack, "/api/movies", method="POST", **{"X-Migration-Target": "new"},
                                    body={"title": "Stalker", "description": "The Zone.", "genres": ["sci-fi"],
                                          "rating": 8.1})
    assert (status, headers["X-Upstream"]) == (201, "movies-service")
    status, headers, found = call(stack, f"/api/movies?id={created['id']}", **{"X-Migration-Target": "legacy"})
    assert (status, headers["X-Upstream"], found) == (200, "monolith", created)


def test_other_routes_and_readiness_with_the_real_services(stack):
    status, headers, users = call(stack, "/api/users")
    assert (status, headers["X-Upstream"]) == (200, "monolith")
    assert users
    status, headers, body = call(stack, "/api/users?id=999999")
    assert (status, headers["X-Upstream"], body) == (404, "monolith", {"error": "user 999999 not found"})
    status, headers, body = call(stack, "/api/events/movie", method="POST", body={})
    assert (status, headers["X-Upstream"]) == (502, "events-service")
    assert body["error"].startswith("cannot connect to events-service")
    status, _, ready = call(stack, "/ready", base=stack.gateway.admin_url)
    assert status == 200
    assert {name: state["up"] for name, state in ready["upstreams"].items()} == {
        "monolith": True, "movies-service": True, "events-service": False}
