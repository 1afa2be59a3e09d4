"""The admin port: what each port serves, /status and /dashboard, and the guard and shadow seen through the app."""

from __future__ import annotations

import time

import pytest

from tests.proxy_service.admin_port import ADMIN
from tests.proxy_service.test_observability import sample


@pytest.mark.parametrize("path", ["/metrics", "/ready", "/status", "/dashboard", "/dashboard/dashboard.js", "/"])
def test_the_main_port_serves_only_the_api_and_health(client, path):
    response = client.get(path)
    assert (response.status_code, response.get_json()) == (404, {"error": "not found"})
    assert client.get("/health").get_json() == {"status": True}
    assert client.get("/api/users").headers["X-Upstream"] == "monolith"


def test_the_admin_port_serves_its_pages_and_no_api(client):
    assert client.get("/health", **ADMIN).get_json() == {"status": True}
    metrics = client.get("/metrics", **ADMIN)
    assert metrics.status_code == 200
    assert "gateway_guard_tripped 0.0" in metrics.get_data(as_text=True)
    api = client.get("/api/users", **ADMIN)
    assert (api.status_code, api.get_json()) == (404, {"error": "not found"})


def test_status_describes_the_split_guard_circuit_traffic_and_shadow(make_app):
    client = make_app(movies_migration_percent=30).test_client()
    client.get("/api/movies")
    status = client.get("/status", **ADMIN)
    assert status.headers["Cache-Control"] == "no-store"
    body = status.get_json()
    assert body["split"] == {"percent": 30, "mode": "fixed", "source": "MOVIES_MIGRATION_PERCENT",
                             "origin": "environment", "ramp": None}
    assert (body["guard"]["state"], body["guard"]["last_trip"]) == ("collecting", None)
    assert body["circuit"]["movies-service"] == "closed"
    assert sum(body["traffic"]["totals"][name]["requests"] for name in ("monolith", "movies-service")) == 1
    assert body["shadow"]["counts"] == {"match": 0, "mismatch": 0, "error": 0, "skipped": 0}


def test_the_dashboard_is_one_page_with_its_own_script_and_style(client):
    page = client.get("/dashboard", **ADMIN)
    assert page.status_code == 200
    assert page.content_type == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert 'src="/dashboard/dashboard.js"' in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    script = client.get("/dashboard/dashboard.js", **ADMIN)
    assert (script.status_code, script.content_type) == (200, "text/javascript; charset=utf-8")
    assert 'fetch("/status"' in script.get_data(as_text=True)
    assert client.get("/dashboard/dashboard.css", **ADMIN).content_type == "text/css; charset=utf-8"
    missing = client.get("/dashboard/secrets.txt", **ADMIN)
    assert (missing.status_code, missing.get_json()) == (404, {"error": "no dashboard file 'secrets.txt'"})


def test_a_failing_movies_service_trips_the_guard_until_it_is_rearmed(make_app, backends, tmp_path, caplog):
    routing_file = tmp_path / "routing.env"
    routing_file.write_text("MOVIES_MIGRATION_PERCENT=100\n")
    client = make_app(routing_config_file=str(routing_file), routing_check_seconds=0.05, guard_min_requests=5,
                      guard_window_seconds=2.0, circuit_failure_threshold=1000).test_client()
    backends.movies.status = 500
    served = [client.get("/api/movies").headers for _ in range(10)]
    assert [headers.get("X-Fallback-Reason") for headers in served[:5]] == ["status-500"] * 5
    assert all(headers["X-Upstream"] == "monolith" and "X-Fallback-From" not in headers for headers in served[5:])
    assert len(backends.movies.received) == 5
    assert any("guard tripped" in record.message for record in caplog.records)
    status = client.get("/status", **ADMIN).get_json()
    assert (status["split"]["percent"], status["split"]["mode"], status["guard"]["state"]) == (0, "guard-tripped",
                                                                                               "tripped")
    assert "error rate 100.0% over 5.0%" in status["guard"]["last_trip"]["reason"]
    ready = client.get("/ready", **ADMIN).get_json()
    assert (ready["status"], ready["guard"]["state"], ready["split"]["percent"]) == ("ready", "tripped", 0)
    metrics = client.get("/metrics", **ADMIN).get_data(as_text=True)
    assert (sample(metrics, "gateway_guard_trips_total"), sample(metrics, "gateway_guard_tripped"),
            sample(metrics, "gateway_movies_share_percent")) == (1, 1, 0)

    backends.movies.status = None
    time.sleep(2.2)
    assert client.get("/api/movies").headers["X-Upstream"] == "monolith", "a trip outlasts its window"
    routing_file.write_text("MOVIES_MIGRATION_PERCENT=100\nGUARD_REARM=movies fixed\n")
    time.sleep(0.1)
    assert client.get("/api/movies").headers["X-Upstream"] == "movies-service"
    status = client.get("/status", **ADMIN).get_json()
    assert (status["split"]["percent"], status["guard"]["state"]) == (100, "collecting")
    assert status["guard"]["last_trip"]["holding"] is False


def test_a_slow_movies_service_trips_the_guard_on_its_p99(make_app, backends):
    client = make_app(movies_migration_percent=100, guard_min_requests=3, guard_max_p99_seconds=0.05).test_client()
    backends.movies.delay = 0.08
    for _ in range(3):
        client.get("/api/movies")
    backends.movies.delay = 0
    assert client.get("/api/movies").headers["X-Upstream"] == "monolith"
    assert "p99 latency over 0.05 s" in client.get("/status", **ADMIN).get_json()["guard"]["last_trip"]["reason"]


def test_an_open_circuit_does_not_hide_a_bad_movies_service_from_the_guard(make_app, backends):
    client = make_app(movies_migration_percent=100, circuit_failure_threshold=3, guard_min_requests=10).test_client()
    backends.movies.status = 500
    reasons = [client.get("/api/movies").headers.get("X-Fallback-Reason") for _ in range(12)]
    assert reasons == ["status-500"] * 3 + ["circuit-open"] * 7 + [None] * 2
    assert len(backends.movies.received) == 3
    assert client.get("/status", **ADMIN).get_json()["guard"]["state"] == "tripped"


def test_forced_requests_do_not_feed_the_guard(make_app, backends):
    client = make_app(movies_migration_percent=100, guard_min_requests=3).test_client()
    backends.movies.status = 500
    for _ in range(5):
        client.get("/api/movies", headers={"X-Migration-Target": "new"})
    assert client.get("/status", **ADMIN).get_json()["guard"]["window"]["requests"] == 0


def wait_for_shadow(client, total: int) -> dict:
    deadline = time.monotonic() + 5
    while True:
        shadow = client.get("/status", **ADMIN).get_json()["shadow"]
        if sum(shadow["counts"].values()) >= total or time.monotonic() > deadline:
            return shadow
        time.sleep(0.02)


def test_mirrored_gets_are_compared_and_differences_listed(make_app, backends):
    client = make_app(movies_migration_percent=0, shadow_percent=100).test_client()
    answer = client.get("/api/movies?limit=5", headers={"X-User-Id": "7"})
    assert answer.headers["X-Upstream"] == "monolith"
    assert answer.get_json()["backend"] == "monolith"
    client.post("/api/movies", json={"title": "never mirrored"})
    shadow = wait_for_shadow(client, 1)
    assert shadow["counts"]["mismatch"] == 1
    [mismatch] = shadow["mismatches"]
    assert (mismatch["path"], mismatch["served_by"]) == ("/api/movies?limit=5", "monolith")
    assert mismatch["statuses"] == {"monolith": 200, "movies-service": 200}
    assert {"path": "$.backend", "monolith": "monolith", "movies-service": "movies-service"} in mismatch["differences"]
    assert [seen["method"] for seen in backends.movies.received] == ["GET"]
    assert backends.movies.received[0]["headers"]["x-user-id"] == "7"
    text = client.get("/metrics", **ADMIN).get_data(as_text=True)
    assert sample(text, "gateway_shadow_comparisons_total", route="movies", result="mismatch") == 1


def test_ignored_fields_make_equal_answers_match(make_app, backends):
    client = make_app(movies_migration_percent=100, shadow_percent=100,
                      shadow_ignore_fields=("backend", "peer_port", "headers", "header_lines")).test_client()
    assert client.get("/api/movies").headers["X-Upstream"] == "movies-service"
    shadow = wait_for_shadow(client, 1)
    assert (shadow["counts"]["match"], shadow["match_rate"]) == (1, 1.0)
    assert backends.monolith.received[0]["target"] == "/api/movies"
