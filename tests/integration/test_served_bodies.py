"""Bodies as gunicorn hands them to a backend: cut, badly chunked, too large, or not JSON."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import psycopg
import pytest

from tests.integration.served import exchange, read_response, served_monolith

USER = json.dumps({"username": "cut", "email": "cut@example.com"}).encode()


@pytest.fixture(scope="module")
def monolith(postgres_server, tmp_path_factory):
    """The monolith under gunicorn on a database of this module's own."""
    url = postgres_server.new_database("served_bodies")
    with served_monolith(url, tmp_path_factory.mktemp("served") / "monolith.log") as server:
        yield server, url


def _users_named(url: str, username: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM users WHERE username = %s", (username,)).fetchone()[0]


def _post(body: bytes, *headers: str) -> bytes:
    return b"\r\n".join([b"POST /api/users HTTP/1.1", b"Host: x", *(h.encode() for h in headers), b"", body])


def test_a_body_shorter_than_its_content_length_is_400_and_writes_nothing(monolith):
    server, url = monolith
    request = _post(USER, "Content-Type: application/json", f"Content-Length: {len(USER) + 20}")
    status, headers, body = exchange(server.port, request, half_close=True)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": f"request body is incomplete: {len(USER)} of {len(USER) + 20} bytes arrived"}
    assert _users_named(url, "cut") == 0


@pytest.mark.parametrize("chunks", [
    b"zz\r\n" + USER + b"\r\n0\r\n\r\n",                          # a size that is not hex
    b"%x\r\n" % len(USER) + USER + b"XX0\r\n\r\n",                # no CRLF after the data
    b"%x\r\n" % (len(USER) + 5) + USER,                           # the client stops mid-chunk
    b"%x;bad ext\r\n" % len(USER) + USER + b"\r\n0\r\n\r\n",     # a malformed extension
])
def test_bad_chunked_framing_is_400_json_and_writes_nothing(monolith, chunks):
    server, url = monolith
    request = _post(chunks, "Content-Type: application/json", "Transfer-Encoding: chunked")
    status, headers, body = exchange(server.port, request, half_close=True)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "request body is incomplete: bad chunked framing or a closed connection"}
    assert _users_named(url, "cut") == 0
    assert "Traceback" not in server.log()


def test_good_chunked_framing_is_a_body(monolith):
    server, url = monolith
    body = json.dumps({"username": "chunked", "email": "chunked@example.com"}).encode()
    chunks = b"%x\r\n%b\r\n%x\r\n%b\r\n0\r\n\r\n" % (5, body[:5], len(body) - 5, body[5:])
    status, _, _ = exchange(server.port, _post(chunks, "Content-Type: application/json", "Transfer-Encoding: chunked"))
    assert status == 201
    assert _users_named(url, "chunked") == 1


def test_a_transfer_coding_other_than_chunked_is_400_and_writes_nothing(monolith):
    server, url = monolith
    body = json.dumps({"username": "gzipped", "email": "gzipped@example.com"}).encode()
    chunks = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    status, _, answer = exchange(server.port, _post(chunks, "Content-Type: application/json",
                                                    "Transfer-Encoding: gzip, chunked"))
    assert (status, json.loads(answer)) == (400, {"error": "Transfer-Encoding other than chunked is not supported"})
    assert _users_named(url, "gzipped") == 0


def test_text_plain_is_415_through_gunicorn_and_writes_nothing(monolith):
    server, url = monolith
    status, _, body = exchange(server.port, _post(USER, "Content-Type: text/plain", f"Content-Length: {len(USER)}"))
    assert (status, json.loads(body)) == (415, {"error": "Content-Type must be application/json"})
    assert _users_named(url, "cut") == 0


def test_an_oversized_body_gets_its_413_while_the_client_is_still_sending(monolith):
    server, _ = monolith
    size = 8 * 1024 * 1024
    head = _post(b"", "Content-Type: application/json", f"Content-Length: {size}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sender = threading.Thread(target=_send_ignoring_resets, args=(sock, head + b"{" + b" " * (size - 1)))
        sender.start()
        status, _, body = read_response(sock)
        sender.join(timeout=15)
    assert status == 413
    assert json.loads(body) == {"error": "request body too large"}


def test_a_chunked_body_over_the_limit_is_413_once_it_passes_the_limit(monolith):
    server, _ = monolith
    chunk = b" " * 65536
    head = _post(b"", "Content-Type: application/json", "Transfer-Encoding: chunked")
    body = b"1\r\n{\r\n" + b"%x\r\n%b\r\n" % (len(chunk), chunk) * 24  # 1.5 MiB, and no last chunk
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sender = threading.Thread(target=_send_ignoring_resets, args=(sock, head + body))
        sender.start()
        status, _, answer = read_response(sock)
        sender.join(timeout=15)
    assert (status, json.loads(answer)) == (413, {"error": "request body too large"})


def test_a_chunked_body_of_exactly_the_limit_is_a_body(monolith):
    server, _ = monolith
    movie = b'{"title": "at the limit", "description": "", "rating": 1}'
    body = movie + b" " * (1024 * 1024 - len(movie))
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in (body[:700_000], body[700_000:]))
    request = b"\r\n".join([b"POST /api/movies HTTP/1.1", b"Host: x", b"Content-Type: application/json",
                             b"Transfer-Encoding: chunked", b"", chunks + b"0\r\n\r\n"])
    status, _, answer = exchange(server.port, request)
    assert (status, json.loads(answer)["title"]) == (201, "at the limit")


def _send_ignoring_resets(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server closes the connection after its 413, as it may
        sock.sendall(data)


@pytest.mark.parametrize("path", [b"/api//users", b"/api/users//", b"/api/users/", b"/api///movies"])
def test_doubled_slashes_inside_a_path_are_404_json_through_gunicorn(monolith, path):
    server, _ = monolith
    status, headers, body = exchange(server.port, b"GET %b HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    assert (status, json.loads(body)) == (404, {"error": "not found"})
    assert "location" not in headers


def test_leading_slashes_are_read_as_one_never_redirected(monolith):
    server, _ = monolith
    status, headers, body = exchange(server.port, b"GET //api/users?limit=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200
    assert [user["id"] for user in json.loads(body)] == [1]
    assert headers["link"] == '</api/users?limit=1&offset=1>; rel="next"'


def test_options_is_204_through_gunicorn(monolith):
    server, _ = monolith
    started = time.monotonic()
    status, headers, body = exchange(server.port, b"OPTIONS /api/users HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, headers["allow"], body) == (204, "GET, HEAD, OPTIONS, POST", b"")
    assert time.monotonic() - started < 5
