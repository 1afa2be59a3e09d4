"""Migration safety on the real gateway (gunicorn, two gevent workers) with real loopback backends.

The admin port serves /metrics and /status and the main port does not; a failing movies
service trips the guard within one window and the share stays at 0 until GUARD_REARM changes;
a backend that answers differently shows as mismatches; a ramp plan moves the share on time.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tests.proxy_service.backends import GunicornGateway
from tests.proxy_service.json_backends import JsonBackend
from tests.proxy_service.test_observability import sample

MOVIES = [{"id": 1, "title": "Alien", "rating": 8.5}, {"id": 2, "title": "Heat", "rating": 8.3}]
WINDOW = 3.0


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One GET on a new connection (so gunicorn hands requests to both workers)."""
    request = urllib.request.Request(url, headers={"Connection": "close", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def status_of(gateway: GunicornGateway) -> dict:
    return json.loads(get(f"{gateway.admin_url}/status")[2])


def metric(gateway: GunicornGateway, name: str, **labels: str) -> float:
    return sample(get(f"{gateway.admin_url}/metrics")[2].decode(), name, **labels)


def wait_until(check, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    folder = tmp_path_factory.mktemp("migration")
    routing_file = folder / "routing.env"
    routing_file.write_text("MOVIES_MIGRATION_PERCENT=100\n")
    monolith, movies = JsonBackend(MOVIES), JsonBackend(MOVIES)
    gateway = GunicornGateway({
        "MONOLITH_URL": monolith.url, "MOVIES_SERVICE_URL": movies.url, "EVENTS_SERVICE_URL": monolith.url,
        "ROUTING_CONFIG_FILE": str(routing_file), "ROUTING_CHECK_SECONDS": "0.2",
        "GUARD_WINDOW_SECONDS": str(WINDOW), "GUARD_MIN_REQUESTS": "10", "CIRCUIT_FAILURE_THRESHOLD": "1000",
        "STATUS_SAMPLE_SECONDS": "1",
    }, folder / "gateway.log")
    yield SimpleNamespace(gateway=gateway, monolith=monolith, movies=movies, routing_file=routing_file)
    gateway.stop()
    monolith.stop()
    movies.stop()


def test_metrics_and_status_are_on_the_admin_port_only(stack):
    gateway = stack.gateway
    for path in ("/metrics", "/status", "/ready", "/dashboard"):
        status, _, body = get(f"{gateway.url}{path}")
        assert (status, json.loads(body)) == (404, {"error": "not found"}), path
        assert get(f"{gateway.admin_url}{path}")[0] == 200, path
    assert get(f"{gateway.url}/health")[0] == 200
    assert get(f"{gateway.url}/api/movies")[1]["X-Upstream"] == "movies-service"
    assert "gateway_requests_total" in get(f"{gateway.admin_url}/metrics")[2].decode()


def test_a_differing_backend_shows_as_mismatches(stack):
    stack.routing_file.write_text("MOVIES_MIGRATION_PERCENT=100\nSHADOW_PERCENT=100\n")
    stack.movies.document = [MOVIES[0], {**MOVIES[1], "title": "Heat (director's cut)"}]
    time.sleep(0.5)
    for _ in range(6):
        status, headers, body = get(f"{stack.gateway.url}/api/movies?limit=2")
        assert (status, headers["X-Upstream"], json.loads(body)[1]["title"]) == (
            200, "movies-service", "Heat (director's cut)"), "the client gets the serving backend's answer"
    shadow = wait_until(lambda: (s := status_of(stack.gateway)["shadow"])["counts"]["mismatch"] >= 6 and s, 10)
    assert shadow, "six mismatches were counted"
    mismatch = shadow["mismatches"][0]
    assert (mismatch["path"], mismatch["served_by"]) == ("/api/movies?limit=2", "movies-service")
    assert mismatch["differences"] == [{"path": "$[1].title", "movies-service": "Heat (director's cut)",
                                        "monolith": "Heat"}]
    assert metric(stack.gateway, "gateway_shadow_comparisons_total", route="movies", result="mismatch") == 6
    assert len(stack.monolith.requests) >= 6
    stack.movies.document = MOVIES
    stack.routing_file.write_text("MOVIES_MIGRATION_PERCENT=100\n")
    time.sleep(0.5)


def test_a_failing_movies_service_trips_the_guard_until_rearmed(stack):
    gateway = stack.gateway
    stack.movies.status = 500
    failing_since = time.monotonic()
    for _ in range(40):
        get(f"{gateway.url}/api/movies")
    tripped = wait_until(lambda: status_of(gateway)["split"]["percent"] == 0, WINDOW)
    assert tripped and time.monotonic() - failing_since < WINDOW + 2.0, "the share fell to 0 within one window"
    before = len(stack.movies.requests)
    answers = [get(f"{gateway.url}/api/movies")[1] for _ in range(20)]
    assert all(h["X-Upstream"] == "monolith" and "X-Fallback-From" not in h for h in answers), "every worker holds 0"
    assert len(stack.movies.requests) == before
    status = status_of(gateway)
    assert (status["split"]["mode"], status["guard"]["state"]) == ("guard-tripped", "tripped")
    reason = status["guard"]["last_trip"]["reason"]
    assert re.fullmatch(r"error rate \d+\.\d% over 5\.0% \(\d+ of \d+ answers in 3 s\)", reason)
    assert json.loads(get(f"{gateway.admin_url}/ready")[2])["guard"]["state"] == "tripped"
    assert metric(gateway, "gateway_movies_share_percent") == 0
    assert metric(gateway, "gateway_guard_tripped") == 1
    assert metric(gateway, "gateway_guard_trips_total") >= 1
    assert "guard tripped" in gateway.log()

    stack.movies.status = 200
    time.sleep(WINDOW + 0.5)
    assert get(f"{gateway.url}/api/movies")[1]["X-Upstream"] == "monolith", "the trip outlasts its window"
    stack.routing_file.write_text("MOVIES_MIGRATION_PERCENT=100\nGUARD_REARM=fixed at 22:00\n")
    assert wait_until(lambda: status_of(gateway)["split"]["percent"] == 100, 3)
    time.sleep(0.5)
    assert {get(f"{gateway.url}/api/movies")[1]["X-Upstream"] for _ in range(10)} == {"movies-service"}
    assert metric(gateway, "gateway_guard_tripped") == 0


def test_a_ramp_plan_moves_the_share_on_schedule(tmp_path):
    monolith, movies = JsonBackend(MOVIES), JsonBackend(MOVIES)
    interval, start = 3.0, time.time() + 5.0
    start_text = datetime.fromtimestamp(start, UTC).isoformat()
    gateway = GunicornGateway({
        "MONOLITH_URL": monolith.url, "MOVIES_SERVICE_URL": movies.url, "EVENTS_SERVICE_URL": monolith.url,
        "MOVIES_RAMP_STEPS": "0,50,100", "MOVIES_RAMP_INTERVAL_SECONDS": str(interval), "MOVIES_RAMP_START": start_text,
    }, tmp_path / "gateway.log")
    try:
        seen: list[tuple[float, int, float]] = []
        users_on_movies: list[set[str]] = []
        while time.time() < start + 3 * interval + 1:
            now = time.time()
            seen.append((now, status_of(gateway)["split"]["percent"], metric(gateway, "gateway_ramp_step")))
            users_on_movies.append({user for user in ("a", "b", "c", "d", "e", "f", "g", "h")
                                    if get(f"{gateway.url}/api/movies", **{"X-User-Id": user})[1]["X-Upstream"]
                                    == "movies-service"})
            time.sleep(0.2)
    finally:
        gateway.stop()
        monolith.stop()
        movies.stop()
    for now, percent, step in seen:
        elapsed = (now - start) / interval
        if abs(elapsed - round(elapsed)) * interval < 0.4:
            continue  # too close to a step change to say which side the gateway saw
        expected = 0 if elapsed < 1 else 50 if elapsed < 2 else 100
        assert percent == expected, (now - start, percent)
        assert step == (0 if elapsed < 0 else min(3, int(elapsed) + 1)), (now - start, step)
    assert {percent for _, percent, _ in seen} == {0, 50, 100}
    for earlier, later in itertools.pairwise(users_on_movies):
        assert earlier <= later, "a sticky user only moves towards the movies service"
    assert users_on_movies[-1] == set("abcdefgh")
