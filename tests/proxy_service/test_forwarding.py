"""What the gateway sends upstream and hands back: hop-by-hop headers gone, the rest untouched."""

from __future__ import annotations

import io

import pytest

from proxy_service.config import UpstreamAddress
from proxy_service.forwarding import BodyTooLarge, read_body, request_head, request_id_of, response_headers
from proxy_service.http1 import Head
from proxy_service.upstream import Response, Upstream


def environ(**extra):
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/movies", "QUERY_STRING": "", "RAW_URI": "/api/movies",
            "REMOTE_ADDR": "10.1.2.3", "wsgi.url_scheme": "http", "HTTP_HOST": "cinema.example:8000",
            "wsgi.input": io.BytesIO(b"")}
    base.update(extra)
    return base


def head_lines(env, body_length=0):
    text = request_head(env, "backend:8080", "rid-1", body_length).decode("latin-1")
    assert text.endswith("\r\n\r\n")
    request_line, *lines = text[:-4].split("\r\n")
    return request_line, lines


def test_hop_by_hop_and_connection_named_headers_are_not_sent():
    _, lines = head_lines(environ(
        HTTP_CONNECTION="keep-alive, X-Secret, Foo", HTTP_X_SECRET="s", HTTP_FOO="f", HTTP_KEEP_ALIVE="timeout=5",
        HTTP_PROXY_CONNECTION="keep-alive", HTTP_TE="trailers", HTTP_TRAILER="X-Sum", HTTP_UPGRADE="h2c",
        HTTP_TRANSFER_ENCODING="chunked", HTTP_EXPECT="100-continue", HTTP_X_KEPT="yes", HTTP_ACCEPT="*/*"))
    names = [line.split(":")[0].lower() for line in lines]
    for dropped in ("connection", "x-secret", "foo", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                    "transfer-encoding", "expect"):
        assert dropped not in names
    assert "X-Kept: yes" in lines
    assert "Accept: */*" in lines


def test_host_forwarded_headers_and_request_id_are_set():
    request_line, lines = head_lines(environ(RAW_URI="/api/movies?id=1&x=%20y"))
    assert request_line == "GET /api/movies?id=1&x=%20y HTTP/1.1"
    assert lines[0] == "Host: backend:8080"
    assert {"X-Forwarded-For: 10.1.2.3", "X-Forwarded-Proto: http", "X-Forwarded-Host: cinema.example:8000",
            "X-Request-ID: rid-1"} <= set(lines)
    assert sum(line.lower().startswith("host:") for line in lines) == 1


def test_an_earlier_proxy_chain_is_extended():
    _, lines = head_lines(environ(HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_X_FORWARDED_PROTO="https",
                                  HTTP_X_FORWARDED_HOST="cinema.example"))
    assert {"X-Forwarded-For: 203.0.113.9, 10.1.2.3", "X-Forwarded-Proto: https",
            "X-Forwarded-Host: cinema.example"} <= set(lines)


def test_bodies_get_their_length_and_type():
    _, lines = head_lines(environ(REQUEST_METHOD="POST", CONTENT_TYPE="application/json"), body_length=12)
    assert {"Content-Type: application/json", "Content-Length: 12"} <= set(lines)
    _, lines = head_lines(environ(REQUEST_METHOD="POST"), body_length=0)
    assert "Content-Length: 0" in lines
    _, lines = head_lines(environ())
    assert not any(line.startswith("Content-Length") for line in lines)


@pytest.mark.parametrize(("raw", "target"), [
    ("/api/movies/\xd1\x84\xd0\xb8?q=\xc3\xbc", "/api/movies/%D1%84%D0%B8?q=%C3%BC"),
    ("/api/movies/%d1%84?a=b%20c&a=d", "/api/movies/%d1%84?a=b%20c&a=d"),
])
def test_the_target_passes_as_sent_with_non_ascii_bytes_encoded(raw, target):
    request_line, _ = head_lines(environ(RAW_URI=raw))
    assert request_line == f"GET {target} HTTP/1.1"


def test_without_a_raw_target_it_is_rebuilt_from_path_and_query():
    request_line, _ = head_lines(environ(RAW_URI="http://x/api/movies", PATH_INFO="/api/movies/a b",
                                         QUERY_STRING="q=1"))
    assert request_line == "GET /api/movies/a%20b?q=1 HTTP/1.1"


@pytest.mark.parametrize(("sent", "kept"), [("abc-123", True), ("", False), ("has space", False), ("x" * 201, False)])
def test_request_ids_are_kept_when_sane(sent, kept):
    request_id = request_id_of({"HTTP_X_REQUEST_ID": sent} if sent else {})
    assert (request_id == sent) is kept
    assert request_id


def test_response_headers_lose_hop_by_hop_and_gain_x_upstream():
    head = Head(200, "OK", [("Set-Cookie", "a=1"), ("Connection", "keep-alive, X-Private"), ("X-Private", "p"),
                            ("Keep-Alive", "timeout=5"), ("Set-Cookie", "b=2"), ("Content-Encoding", "gzip"),
                            ("Proxy-Connection", "x"), ("Trailer", "X-Sum"), ("Upgrade", "h2"),
                            ("Content-Length", "10")], "length", 10, True)
    upstream = Upstream("monolith", UpstreamAddress.parse("X", "http://127.0.0.1:1"), connect_timeout=1,
                        read_timeout=1)
    headers = response_headers(Response(upstream, None, head), "monolith", "rid-9")
    assert headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Encoding", "gzip"),
                       ("Content-Length", "10"), ("X-Upstream", "monolith"), ("X-Request-ID", "rid-9")]


def test_bodies_over_the_limit_are_refused_before_reading():
    class Unreadable(io.RawIOBase):
        def read(self, size=-1):
            raise AssertionError("the body must not be read")

    with pytest.raises(BodyTooLarge):
        read_body({"CONTENT_LENGTH": "11", "wsgi.input": Unreadable()}, 10)
    assert read_body({"CONTENT_LENGTH": "10", "wsgi.input": io.BytesIO(b"x" * 10)}, 10) == b"x" * 10


def test_chunked_uploads_are_limited_too():
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked"}
    with pytest.raises(BodyTooLarge):
        read_body({**chunked, "wsgi.input": io.BytesIO(b"x" * 11)}, 10)
    assert read_body({**chunked, "wsgi.input": io.BytesIO(b"x" * 10)}, 10) == b"x" * 10
