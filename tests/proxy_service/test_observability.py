"""What operators see: readiness per backend, Prometheus metrics, one JSON access line per request."""

from __future__ import annotations

import json
import re

from tests.proxy_service.admin_port import ADMIN
from tests.proxy_service.backends import unused_url


def sample(metrics_text: str, name: str, **labels: str) -> float:
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_ready_reports_every_backend(client, backends):
    response = client.get("/ready", **ADMIN)
    body = response.get_json()
    assert (response.status_code, body["status"]) == (200, "ready")
    assert {name: state["up"] for name, state in body["upstreams"].items()} == {
        "monolith": True, "movies-service": True, "events-service": True}
    assert body["upstreams"]["monolith"]["url"] == f"{backends.monolith.url}/health"
    assert body["upstreams"]["movies-service"]["url"] == f"{backends.movies.url}/api/movies/health"
    assert body["upstreams"]["events-service"]["url"] == f"{backends.events.url}/api/events/health"
    assert body["routing"]["movies_migration_percent"] == 50


def test_a_service_down_is_reported_without_failing_readiness(client, backends):
    backends.movies.stop()
    backends.events.status = 503
    response = client.get("/ready", **ADMIN)
    states = response.get_json()["upstreams"]
    assert response.status_code == 200
    assert states["movies-service"]["up"] is False
    assert "refused" in states["movies-service"]["error"]
    assert (states["events-service"]["up"], states["events-service"]["status"]) == (False, 503)


def test_without_the_monolith_the_gateway_is_not_ready_but_alive(make_app):
    client = make_app(monolith_url=unused_url(), ready_timeout_seconds=0.3).test_client()
    response = client.get("/ready", **ADMIN)
    assert response.status_code == 503
    assert response.get_json()["error"] == "the monolith does not answer its health check"
    assert client.get("/health").status_code == 200


def test_metrics_count_requests_fallbacks_and_overrides(make_app, backends):
    client = make_app(movies_migration_percent=100).test_client()
    for _ in range(3):
        client.get("/api/movies")
    client.get("/api/users", headers={"X-Test-Status": "404"})
    client.get("/api/movies", headers={"X-Migration-Target": "legacy"})
    backends.movies.status = 502
    client.get("/api/movies")
    response = client.get("/metrics", **ADMIN)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert sample(text, "gateway_requests_total", route="movies", upstream="movies-service",
                  status_class="2xx") == 3
    assert sample(text, "gateway_requests_total", route="legacy", upstream="monolith", status_class="4xx") == 1
    assert sample(text, "gateway_requests_total", route="movies", upstream="monolith", status_class="2xx") == 2
    assert sample(text, "gateway_overrides_total", target="monolith") == 1
    assert sample(text, "gateway_fallbacks_total", reason="status-502") == 1
    assert sample(text, "gateway_request_duration_seconds_count", route="movies", upstream="movies-service") == 3
    assert sample(text, "gateway_movies_share_percent") == 100


def test_one_json_access_line_per_request(client, capfd):
    capfd.readouterr()
    client.get("/api/users?secret=1", headers={"X-Request-ID": "trace-7"})
    client.get("/health")
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "proxy_service.access"]
    assert len(access) == 2
    proxied, own = access
    assert {key: proxied[key] for key in ("request_id", "method", "path", "route", "upstream", "status",
                                          "fallback", "decision")} == {
        "request_id": "trace-7", "method": "GET", "path": "/api/users", "route": "legacy", "upstream": "monolith",
        "status": 200, "fallback": None, "decision": "path"}
    assert proxied["duration_ms"] > 0
    assert (own["route"], own["status"], own["upstream"]) == ("gateway", 200, None)
