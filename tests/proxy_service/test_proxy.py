"""The gateway in front of real backends on loopback: routing, split, stickiness, pass-through, errors."""

from __future__ import annotations

import gzip
import io
import json
import socket
import time

import pytest

from proxy_service.app import gateway_of
from tests.proxy_service.admin_port import ADMIN
from tests.proxy_service.backends import RawBackend, StrayBytesBackend


def upstream_of(response) -> str:
    return response.headers["X-Upstream"]


def test_health_is_the_gateways_own(client):
    response = client.get("/health")
    assert (response.status_code, response.get_json()) == (200, {"status": True})
    assert "X-Upstream" not in response.headers


@pytest.mark.parametrize(("path", "upstream"), [
    ("/api/users", "monolith"), ("/api/payments?user_id=1", "monolith"), ("/api/subscriptions/7", "monolith"),
    ("/api/events/movie", "events-service"), ("/api/events", "events-service"),
])
def test_paths_go_where_the_contract_says(client, backends, path, upstream):
    response = client.get(path)
    assert response.status_code == 200
    assert upstream_of(response) == upstream
    assert response.get_json()["backend"] == upstream
    assert response.get_json()["target"] == path


def test_unknown_paths_outside_api_are_404_json(client):
    response = client.get("/nope")
    assert (response.status_code, response.get_json()) == (404, {"error": "not found"})


def test_30_percent_split_stays_within_statistical_bounds(make_app):
    client = make_app(movies_migration_percent=30).test_client()
    counts = {"monolith": 0, "movies-service": 0}
    for _ in range(2000):
        counts[upstream_of(client.get("/api/movies"))] += 1
    # Binomial(2000, 0.3): mean 600, standard deviation 20.5; 5 deviations either side.
    assert 497 <= counts["movies-service"] <= 703, counts


@pytest.mark.parametrize(("percent", "gradual", "expected"), [
    (0, True, {"monolith"}), (100, True, {"movies-service"}), (0, False, {"movies-service"}),
])
def test_the_ends_of_the_scale(make_app, percent, gradual, expected):
    client = make_app(movies_migration_percent=percent, gradual_migration=gradual).test_client()
    seen = {upstream_of(client.get("/api/movies", headers={"X-User-Id": str(user)})) for user in range(40)}
    seen |= {upstream_of(client.get("/api/movies")) for _ in range(40)}
    assert seen == expected


def test_sticky_users_never_flip(make_app):
    client = make_app(movies_migration_percent=30).test_client()
    first = {user: upstream_of(client.get("/api/movies", headers={"X-User-Id": user}))
             for user in map(str, range(150))}
    assert 20 <= sum(upstream == "movies-service" for upstream in first.values()) <= 80
    for _ in range(3):
        for user, upstream in first.items():
            assert upstream_of(client.get("/api/movies/1", headers={"X-User-Id": user})) == upstream


def test_raising_30_to_60_percent_keeps_every_movies_user_there(make_app, tmp_path):
    config_file = tmp_path / "routing.env"
    config_file.write_text("MOVIES_MIGRATION_PERCENT=30\n")
    client = make_app(routing_config_file=str(config_file), routing_check_seconds=0.05).test_client()
    users = [f"user-{number}" for number in range(200)]

    def placement() -> dict[str, str]:
        return {user: upstream_of(client.get("/api/movies", headers={"X-User-Id": user})) for user in users}

    before = placement()
    config_file.write_text("MOVIES_MIGRATION_PERCENT=60\n")
    time.sleep(0.1)
    after = placement()
    moved_back = [user for user in users if before[user] == "movies-service" and after[user] != "movies-service"]
    assert moved_back == []
    assert sum(value == "movies-service" for value in after.values()) > sum(
        value == "movies-service" for value in before.values()) + 30


def test_the_override_header_forces_the_backend_and_can_be_switched_off(make_app):
    client = make_app(movies_migration_percent=0).test_client()
    assert upstream_of(client.get("/api/movies", headers={"X-Migration-Target": "new"})) == "movies-service"
    assert upstream_of(client.get("/api/movies", headers={"X-Migration-Target": "legacy"})) == "monolith"
    response = client.get("/api/movies", headers={"X-Migration-Target": "newest"})
    assert response.status_code == 400
    assert "X-Migration-Target" in response.get_json()["error"]
    disabled = make_app(movies_migration_percent=0, override_enabled=False).test_client()
    assert upstream_of(disabled.get("/api/movies", headers={"X-Migration-Target": "new"})) == "monolith"


def test_a_config_file_change_takes_effect_and_a_bad_file_is_ignored(make_app, tmp_path):
    config_file = tmp_path / "routing.env"
    config_file.write_text("MOVIES_MIGRATION_PERCENT=0\n")
    app = make_app(routing_config_file=str(config_file), routing_check_seconds=0.05)
    client = app.test_client()
    assert {upstream_of(client.get("/api/movies")) for _ in range(20)} == {"monolith"}
    config_file.write_text("GRADUAL_MIGRATION=false\n")
    time.sleep(0.1)
    assert {upstream_of(client.get("/api/movies")) for _ in range(20)} == {"movies-service"}
    config_file.write_text("GRADUAL_MIGRATION=perhaps\n")
    time.sleep(0.1)
    assert {upstream_of(client.get("/api/movies")) for _ in range(20)} == {"movies-service"}
    routing = client.get("/ready", **ADMIN).get_json()["routing"]
    assert routing["gradual_migration"] is False
    assert routing["file_error"] == "invalid GRADUAL_MIGRATION='perhaps': expected one of true/false/1/0/yes/no"


def test_method_query_body_and_headers_pass_unchanged(client, backends):
    body = json.dumps({"title": "Stalker", "note": "naïve"}).encode()
    response = client.post("/api/users?b=2&a=1&a=%20x", data=body, content_type="application/json",
                           headers={"X-Custom": "kept", "Authorization": "Bearer t"})
    seen = response.get_json()
    assert (seen["method"], seen["target"]) == ("POST", "/api/users?b=2&a=1&a=%20x")
    assert seen["body"].encode("latin-1") == body
    assert {"x-custom": "kept", "authorization": "Bearer t", "content-type": "application/json",
            "content-length": str(len(body))}.items() <= seen["headers"].items()
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.open("/api/users/1", method=method, data=b"x").get_json()["method"] == method


def test_non_ascii_paths_arrive_percent_encoded(client):
    expected = "/api/movies/%D1%84%D0%B8%D0%BB%D1%8C%D0%BC?q=%C3%BC"
    assert client.get("/api/movies/фильм?q=ü").get_json()["target"] == expected
    assert client.get("/api/movies/%D1%84?x=%2F").get_json()["target"] == "/api/movies/%D1%84?x=%2F"


def test_upstream_status_and_headers_come_back(client):
    response = client.get("/api/users", headers={"X-Test-Status": "409", "X-Test-Cookies": "2"})
    assert response.status_code == 409
    assert response.headers.getlist("Set-Cookie") == ["c0=v0; Path=/", "c1=v1; Path=/"]


def test_gzip_bodies_arrive_byte_for_byte(client):
    response = client.get("/api/users", headers={"X-Test-Gzip": "1"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == len(response.data)
    assert json.loads(gzip.decompress(response.data))["backend"] == "monolith"


def test_large_responses_are_streamed_intact(client):
    size = 11 * 1024 * 1024 + 17
    response = client.get("/api/users", headers={"X-Test-Size": str(size)}, buffered=False)
    chunks = list(response.response)
    assert len(chunks) > 10, "the body must arrive in pieces, not held whole"
    data = b"".join(chunks)
    assert len(data) == size
    assert data[:512] == bytes(range(256)) * 2
    response.close()


def test_a_body_over_the_limit_gets_413(make_app, backends):
    client = make_app(max_body_bytes=1000).test_client()
    response = client.post("/api/movies", data=b"x" * 1001)
    assert (response.status_code, response.get_json()) == (413, {"error": "request body larger than 1000 bytes"})
    assert client.post("/api/users", data=b"x" * 1000).status_code == 200
    assert all(seen["body"] != "x" * 1001 for seen in backends.monolith.received)


def test_a_refused_connection_is_502_json(make_app, backends):
    backends.events.stop()
    started = time.monotonic()
    response = make_app().test_client().get("/api/events/recent")
    assert time.monotonic() - started < 1
    assert response.status_code == 502
    assert response.get_json()["error"].startswith("cannot connect to events-service")
    assert response.headers["X-Upstream"] == "events-service"


def test_a_slow_backend_is_504_json_within_the_timeout(make_app, backends):
    backends.monolith.delay = 3
    client = make_app(read_timeout_seconds=0.4).test_client()
    started = time.monotonic()
    response = client.get("/api/users")
    elapsed = time.monotonic() - started
    assert (response.status_code, response.get_json()) == (504, {"error": "timed out reading the response"})
    assert 0.35 <= elapsed < 1.0


def test_a_backend_that_never_accepts_is_504_after_the_connect_timeout(make_app, backends):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        # Fill the accept queue so the next handshake is never answered.
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        client = make_app(monolith_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                          connect_timeout_seconds=0.3).test_client()
        started = time.monotonic()
        response = client.get("/api/users")
        elapsed = time.monotonic() - started
        for filler in fillers:
            filler.close()
    assert response.status_code == 504
    assert "timed out" in response.get_json()["error"]
    assert elapsed < 1.0


def test_a_broken_response_is_502(make_app):
    raw = RawBackend(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
    try:
        response = make_app(monolith_url=raw.url).test_client().get("/api/users")
    finally:
        raw.stop()
    assert response.status_code == 502
    assert response.get_json()["error"] == "monolith closed the response early"


def test_every_proxied_response_names_its_upstream(client):
    for path in ("/api/movies", "/api/users", "/api/events/x", "/api/nothing-here"):
        assert client.get(path).headers["X-Upstream"] in {"monolith", "movies-service", "events-service"}


def test_request_ids_are_kept_or_made_and_returned(client, backends):
    response = client.get("/api/users", headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    assert backends.monolith.received[-1]["headers"]["x-request-id"] == "trace-42"
    made = client.get("/api/users").headers["X-Request-ID"]
    assert len(made) == 32
    assert backends.monolith.received[-1]["headers"]["x-request-id"] == made


def test_connections_to_a_backend_are_kept_alive_and_reused(client, backends):
    for _ in range(20):
        client.get("/api/users")
    assert len({seen["peer_port"] for seen in backends.monolith.received}) == 1


def test_an_unreadable_request_body_is_400_json(client, backends):
    class CutUpload(io.RawIOBase):
        def read(self, size=-1):
            raise ConnectionResetError("the client went away")

    response = client.post("/api/users", environ_overrides={"wsgi.input": CutUpload(), "CONTENT_LENGTH": "10"})
    assert (response.status_code, response.get_json()) == (400, {"error": "the request body could not be read"})
    assert backends.monolith.received == []


def test_a_bug_in_the_gateway_is_a_json_500_not_a_crash(app, caplog):
    def broken() -> None:
        raise RuntimeError("boom")

    gateway_of(app).routing.current = broken
    response = app.test_client().get("/api/users")
    assert (response.status_code, response.get_json()) == (500, {"error": "internal server error"})
    assert any(record.message == "unhandled error in the gateway" for record in caplog.records)


def test_a_cookie_from_one_client_never_reaches_the_backend_for_another(app, backends):
    alice, bob = app.test_client(), app.test_client()
    assert alice.get("/api/users", headers={"X-Test-Cookies": "2"}).headers.getlist("Set-Cookie")
    bob.get("/api/users")
    assert "cookie" not in backends.monolith.received[-1]["headers"]
    assert all(len(upstream.session.cookies) == 0 for upstream in gateway_of(app).upstreams.values())


def test_a_redirect_to_the_backends_own_address_names_the_clients(client, backends):
    own = f"{backends.monolith.url}/api/users?id=1"
    response = client.get("/api/users", headers={"X-Test-Status": "308", "X-Test-Location": own,
                                                 "Host": "cinema.example:8000"})
    assert response.status_code == 308
    assert response.headers["Location"] == "http://cinema.example:8000/api/users?id=1"
    response = client.get("/api/users", headers={"X-Test-Status": "201", "X-Test-Location": own,
                                                 "X-Forwarded-Host": "cinema.example", "X-Forwarded-Proto": "https"})
    assert response.headers["Location"] == "https://cinema.example/api/users?id=1"
    elsewhere = "http://cdn.example/x"
    assert client.get("/api/users", headers={"X-Test-Location": elsewhere}).headers["Location"] == elsewhere


def test_a_body_the_backend_refused_for_its_size_does_not_open_the_circuit(make_app, backends):
    client = make_app(movies_migration_percent=100, circuit_failure_threshold=2).test_client()
    backends.movies.status = 413
    for _ in range(5):
        assert client.post("/api/movies", data=b"x" * 1000).status_code == 413
    assert client.post("/api/movies", data=b"x" * (1024 * 1024 + 1)).status_code == 413
    backends.movies.status = None
    assert client.get("/api/movies").headers["X-Upstream"] == "movies-service"
    assert client.get("/ready", **ADMIN).get_json()["upstreams"]["movies-service"]["circuit"] == "closed"


def test_bytes_after_a_204_do_not_break_the_next_request(make_app):
    stray = StrayBytesBackend()
    try:
        client = make_app(monolith_url=stray.url).test_client()
        assert client.get("/api/no-content").status_code == 204
        time.sleep(0.3)
        response = client.get("/api/users")
        assert (response.status_code, response.data) == (200, b"ok")
        assert client.get("/api/users").status_code == 200
    finally:
        stray.stop()
    assert stray.connections == 2, "the connection with stray bytes is dropped, the next one kept"


@pytest.mark.parametrize(("method", "sent"), [("GET", 2), ("HEAD", 2), ("POST", 1), ("PUT", 1), ("DELETE", 1)])
def test_a_connection_closed_before_answering_is_retried_only_for_idempotent_methods(make_app, method, sent):
    silent = RawBackend(b"")
    try:
        response = make_app(monolith_url=silent.url).test_client().open("/api/users", method=method, data=b"{}")
    finally:
        silent.stop()
    assert response.status_code == 502
    if method != "HEAD":
        assert response.get_json() == {"error": "monolith closed the connection before answering"}
    assert len(silent.requests) == sent


def test_a_switch_of_protocols_is_a_broken_answer(make_app):
    raw = RawBackend(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    try:
        response = make_app(monolith_url=raw.url).test_client().get("/api/users", headers={"Upgrade": "websocket"})
    finally:
        raw.stop()
    assert response.status_code == 502
    assert "upgrade" not in raw.requests[0].decode("latin-1").lower()
