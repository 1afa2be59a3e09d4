"""The real gateway under gunicorn (gevent workers), checked on the wire with raw sockets."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.proxy_service.backends import ROOT, Backend, GunicornGateway, RawBackend, raw_exchange

RAW_RESPONSE = (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nX-Private: secret\r\n"
                b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTrailer: X-Sum\r\nUpgrade: foo\r\n"
                b"X-Public: yes\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"6\r\nhello \r\n5\r\nworld\r\n0\r\nX-Sum: 1\r\n\r\n")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Backends, a routing file, and a gunicorn gateway with two workers in front of them."""
    folder = tmp_path_factory.mktemp("gateway")
    routing_file = folder / "routing.env"
    routing_file.write_text("MOVIES_MIGRATION_PERCENT=0\n")
    monolith, movies, raw = Backend("monolith"), Backend("movies-service"), RawBackend(RAW_RESPONSE)
    gateway = GunicornGateway({
        "MONOLITH_URL": monolith.url, "MOVIES_SERVICE_URL": movies.url, "EVENTS_SERVICE_URL": raw.url,
        "ROUTING_CONFIG_FILE": str(routing_file), "ROUTING_CHECK_SECONDS": "0.2",
        "UPSTREAM_READ_TIMEOUT_SECONDS": "0.5", "MAX_BODY_BYTES": "2048",
    }, folder / "gateway.log")
    yield SimpleNamespace(gateway=gateway, monolith=monolith, movies=movies, raw=raw, routing_file=routing_file)
    gateway.stop()
    for backend in (monolith, movies, raw):
        backend.stop()


def request(stack: SimpleNamespace, target: str, *headers: str, method: str = "GET", body: bytes = b"",
            body_raw: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{stack.gateway.port}", "Connection: close", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return raw_exchange(stack.gateway.port, ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + (body or body_raw))


def split(raw: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    if ("Transfer-Encoding", "chunked") in headers:
        decoded = b""
        while True:
            size_line, _, body = body.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded, body = decoded + body[:size], body[size + 2:]
        body = decoded
    return int(status_line.split()[1]), headers, body


def values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def test_two_set_cookie_headers_stay_two(stack):
    status, headers, _ = split(request(stack, "/api/users", "X-Test-Cookies: 2"))
    assert status == 200
    assert values(headers, "Set-Cookie") == ["c0=v0; Path=/", "c1=v1; Path=/"]
    assert values(headers, "X-Upstream") == ["monolith"]


def test_gzip_arrives_as_the_backend_sent_it(stack):
    status, headers, body = split(request(stack, "/api/users", "X-Test-Gzip: 1", "Accept-Encoding: gzip"))
    assert (status, values(headers, "Content-Encoding")) == (200, ["gzip"])
    assert values(headers, "Content-Length") == [str(len(body))]
    assert json.loads(gzip.decompress(body))["backend"] == "monolith"


def test_hop_by_hop_request_headers_stop_at_the_gateway(stack):
    request(stack, "/api/users?x=1", "X-Secret: s", "Connection: X-Secret", "Keep-Alive: timeout=9",
            "Proxy-Connection: keep-alive", "TE: trailers", "Trailer: X-Sum", "X-Kept: yes")
    seen = stack.monolith.received[-1]
    for name in ("x-secret", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"):
        assert name not in seen["headers"]
    assert "connection" not in seen["headers"], "keep-alive is HTTP/1.1's default towards the backend"
    assert seen["headers"]["x-kept"] == "yes"
    assert [value for name, value in seen["header_lines"] if name.lower() == "host"] == [
        f"127.0.0.1:{stack.monolith.port}"]
    assert {"x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http",
            "x-forwarded-host": f"127.0.0.1:{stack.gateway.port}"}.items() <= seen["headers"].items()


def test_hop_by_hop_response_headers_stop_at_the_gateway(stack):
    status, headers, body = split(request(stack, "/api/events/recent"))
    names = {name.lower() for name, _ in headers}
    assert status == 200
    assert not names & {"x-private", "keep-alive", "proxy-connection", "trailer", "upgrade"}
    assert values(headers, "X-Public") == ["yes"]
    assert values(headers, "X-Upstream") == ["events-service"]
    assert body == b"hello world"


def test_query_strings_bodies_and_non_ascii_paths_pass(stack):
    # gunicorn refuses raw non-ASCII bytes in a request line, so clients send UTF-8 percent-encoded.
    body = "{\"title\": \"Сталкер\"}".encode()
    status, _, answer = split(request(stack, "/api/users/%D1%84%d0%b8?q=%20a&q=b&q=%C3%BC",
                                      "Content-Type: application/json", method="POST", body=body))
    seen = json.loads(answer)
    assert status == 200
    assert (seen["method"], seen["target"]) == ("POST", "/api/users/%D1%84%d0%b8?q=%20a&q=b&q=%C3%BC")
    assert seen["body"].encode("latin-1") == body
    assert stack.gateway.access_lines()[-1]["path"] == "/api/users/фи"


def test_a_chunked_upload_is_sent_on_with_its_length(stack):
    chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    status, _, answer = split(request(stack, "/api/users", "Transfer-Encoding: chunked", method="POST",
                                      body_raw=chunked))
    seen = json.loads(answer)
    assert status == 200
    assert (seen["body"], seen["headers"]["content-length"]) == ("hello world", "11")
    assert "transfer-encoding" not in seen["headers"]
    too_long = b"800\r\n" + b"x" * 2048 + b"\r\n1\r\nx\r\n0\r\n\r\n"
    status, _, answer = split(request(stack, "/api/users", "Transfer-Encoding: chunked", method="POST",
                                      body_raw=too_long))
    assert (status, json.loads(answer)) == (413, {"error": "request body larger than 2048 bytes"})


def test_a_large_response_streams_through_intact(stack):
    size = 4 * 1024 * 1024 + 3
    status, _, body = split(request(stack, "/api/users", f"X-Test-Size: {size}"))
    assert (status, len(body)) == (200, size)
    assert body[-3:] == bytes(range(3))


@pytest.mark.parametrize("expect", [[], ["Expect: 100-continue"]])
def test_a_body_declared_too_large_gets_its_413_before_any_of_it_is_sent(stack, expect):
    head = "\r\n".join(["POST /api/users HTTP/1.1", f"Host: 127.0.0.1:{stack.gateway.port}",
                         "Content-Type: application/json", "Content-Length: 2000000", *expect]) + "\r\n\r\n"
    with socket.create_connection(("127.0.0.1", stack.gateway.port), timeout=3) as sock:
        sock.sendall(head.encode())
        started, answer = time.monotonic(), b""
        while b'"}' not in answer:  # the 413's JSON body ends so; a 100 Continue may come first
            piece = sock.recv(65536)
            assert piece, f"the gateway closed without a 413: {answer!r}"
            answer += piece
        elapsed = time.monotonic() - started
    assert b"HTTP/1.1 413 " in answer and b'{"error": "request body larger than 2048 bytes"}' in answer
    assert elapsed < 1.0


def test_413_and_504_are_json(stack):
    status, headers, body = split(request(stack, "/api/movies", method="POST", body=b"x" * 2049))
    assert (status, json.loads(body)) == (413, {"error": "request body larger than 2048 bytes"})
    stack.monolith.delay = 2
    try:
        started = time.monotonic()
        status, headers, body = split(request(stack, "/api/users"))
        elapsed = time.monotonic() - started
    finally:
        stack.monolith.delay = 0
    assert (status, values(headers, "Content-Type")) == (504, ["application/json"])
    assert 0.45 <= elapsed < 1.3


def test_metrics_add_up_every_worker(stack):
    before = _requests_total(stack)
    for _ in range(30):
        request(stack, "/api/users")
    scrapes = {_requests_total(stack) for _ in range(6)}
    assert scrapes == {before + 30}


def _requests_total(stack) -> float:
    _, _, body = split(raw_exchange(stack.gateway.admin_port, b"GET /metrics HTTP/1.1\r\nHost: admin\r\n"
                                                              b"Connection: close\r\n\r\n"))
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("gateway_requests_total{"))


def test_one_access_line_per_request_and_no_other(stack):
    count = len(stack.gateway.access_lines())
    request(stack, "/api/users", "X-Request-ID: wire-1")
    time.sleep(0.2)
    lines = stack.gateway.access_lines()
    assert len(lines) == count + 1
    assert (lines[-1]["request_id"], lines[-1]["upstream"], lines[-1]["status"]) == ("wire-1", "monolith", 200)
    assert '"GET /api/users HTTP/1.1" 200' not in stack.gateway.log()


def test_every_worker_follows_the_routing_file(stack):
    def upstreams() -> set[str]:
        return {values(split(request(stack, "/api/movies"))[1], "X-Upstream")[0] for _ in range(20)}

    assert upstreams() == {"monolith"}
    stack.routing_file.write_text("GRADUAL_MIGRATION=false\n")
    deadline = time.monotonic() + 5
    while upstreams() != {"movies-service"}:
        assert time.monotonic() < deadline, "the change was not picked up within 5 s"
        time.sleep(0.1)
    stack.routing_file.write_text("GRADUAL_MIGRATION=whatever\n")
    time.sleep(0.5)
    assert upstreams() == {"movies-service"}
    assert "routing config file ignored" in stack.gateway.log()


def test_the_metrics_directory_is_cleaned_at_start(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")
    backend = Backend("monolith")
    gateway = GunicornGateway({"MONOLITH_URL": backend.url, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                              tmp_path / "gateway.log")
    try:
        raw_exchange(gateway.port, b"GET /api/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        files = {path.name for path in metrics_dir.iterdir()}
    finally:
        gateway.stop()
        backend.stop()
    assert "counter_999999.db" not in files
    assert any(name.startswith("counter_") for name in files)


@pytest.mark.parametrize("value", ["abc", "150", "-1"])
def test_invalid_settings_stop_the_gateway_with_one_line(value):
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:proxy_service.gunicorn_conf",
         "proxy_service.app:create_app()"],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MOVIES_MIGRATION_PERCENT": value},
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0
    assert (done.stdout + done.stderr).strip() == (
        f"proxy_service: invalid MOVIES_MIGRATION_PERCENT={value!r}: expected an integer from 0 to 100")


def test_no_header_is_added_that_the_client_did_not_send(stack):
    request(stack, "/api/users", "X-Kept: 1")
    names = {name.lower() for name, _ in stack.monolith.received[-1]["header_lines"]}
    assert names == {"host", "x-kept", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"}


def test_an_absolute_form_target_is_routed_and_sent_by_its_raw_path(stack):
    base = f"http://127.0.0.1:{stack.gateway.port}"
    status, headers, answer = split(request(stack, f"{base}/api/mo%2576ies?x=%2f", "X-Migration-Target: new"))
    assert (status, values(headers, "X-Upstream")) == (200, ["monolith"])
    assert json.loads(answer)["target"] == "/api/mo%2576ies?x=%2f"
    status, headers, answer = split(request(stack, f"{base}/api/movies", "X-Migration-Target: new"))
    assert (values(headers, "X-Upstream"), json.loads(answer)["target"]) == (["movies-service"], "/api/movies")


def half_closed_exchange(stack, raw: bytes) -> bytes:
    """Send ``raw`` and close the sending side, as a client that went away mid-upload does."""
    with socket.create_connection(("127.0.0.1", stack.gateway.port), timeout=10) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(("upload", "error"), [
    (b"Content-Length: 100\r\n\r\n{\"username\": \"cut\"", "the request body is shorter than its Content-Length"),
    (b"Transfer-Encoding: chunked\r\n\r\n20\r\n{\"username\": \"cut\"", "the request body could not be read"),
])
def test_a_cut_upload_is_400_and_never_forwarded(stack, upload, error):
    received = len(stack.monolith.received)
    answer = half_closed_exchange(stack, b"POST /api/users HTTP/1.1\r\nHost: x\r\n"
                                         b"Content-Type: application/json\r\n" + upload)
    status, headers, body = split(answer)
    assert (status, values(headers, "Content-Type")) == (400, ["application/json"])
    assert json.loads(body) == {"error": error}
    assert len(stack.monolith.received) == received


@pytest.mark.parametrize("chunked", [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n"])
def test_bad_chunked_framing_is_400_and_never_forwarded(stack, chunked):
    received = len(stack.monolith.received)
    status, _, body = split(request(stack, "/api/users", "Transfer-Encoding: chunked", method="POST",
                                    body_raw=chunked))
    assert (status, json.loads(body)) == (400, {"error": "the request body could not be read"})
    assert len(stack.monolith.received) == received


def test_a_transfer_coding_other_than_chunked_is_400_and_never_forwarded(stack):
    received = len(stack.monolith.received)
    status, _, body = split(request(stack, "/api/users", "Transfer-Encoding: gzip, chunked", method="POST",
                                    body_raw=b"2\r\n{}\r\n0\r\n\r\n"))
    assert (status, json.loads(body)) == (400, {"error": "Transfer-Encoding other than chunked is not supported"})
    assert len(stack.monolith.received) == received


def test_bodies_over_the_limit_never_open_the_circuit(stack):
    for _ in range(12):
        status, _, _ = split(request(stack, "/api/movies", "X-Migration-Target: new", method="POST",
                                     body=b"x" * 65536))
        assert status == 413
    for _ in range(4):
        _, headers, _ = split(request(stack, "/api/movies", "X-Migration-Target: new"))
        assert values(headers, "X-Upstream") == ["movies-service"]
        assert values(headers, "X-Fallback-Reason") == []


def test_a_slow_reader_of_a_large_answer_does_not_hold_the_backend(stack):
    size = 7 * 1024 * 1024
    answered = stack.monolith.answered
    with socket.socket() as sock:
        # A small receive window: a client that reads nothing takes almost nothing off the gateway.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", stack.gateway.port))
        sock.sendall(f"GET /api/users HTTP/1.1\r\nHost: x\r\nX-Test-Size: {size}\r\nConnection: close\r\n\r\n"
                     .encode())
        deadline = time.monotonic() + 5
        while stack.monolith.answered == answered:
            assert time.monotonic() < deadline, "the backend is still writing to the gateway"
            time.sleep(0.05)
        answer = b""
        while chunk := sock.recv(1 << 20):
            answer += chunk
    status, _, body = split(answer)
    assert (status, len(body)) == (200, size)


def test_leading_slashes_are_routed_as_the_backend_reads_them(stack):
    status, headers, _ = split(request(stack, "//api/movies?x=1", "X-Migration-Target: new"))
    assert (status, values(headers, "X-Upstream")) == (200, ["movies-service"])
