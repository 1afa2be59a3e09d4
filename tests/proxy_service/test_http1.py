"""Reading responses off the wire: strict framing, every header kept in order, bodies untouched."""

from __future__ import annotations

import io

import pytest

from proxy_service.http1 import FramingError, dechunk, read_head


def head_of(raw: bytes, method: str = "GET"):
    stream = io.BufferedReader(io.BytesIO(raw), buffer_size=65536)
    return read_head(stream, method, stream.readline()), stream


def test_headers_are_kept_in_order_with_repeats():
    head, rest = head_of(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nContent-Length: 2\r\nSet-Cookie: b=2\r\n"
                         b"X-Empty:\r\n\r\nhi")
    assert (head.status, head.reason, head.mode, head.length, head.keep_alive) == (200, "OK", "length", 2, True)
    assert head.headers == [("Set-Cookie", "a=1"), ("Content-Length", "2"), ("Set-Cookie", "b=2"), ("X-Empty", "")]
    assert rest.read() == b"hi"


def test_slow_path_handles_bare_newlines_and_folding():
    head, _ = head_of(b"HTTP/1.1 404 Not Found\nX-Long: one\n  two\nContent-Length: 0\n\n")
    assert head.status == 404
    assert head.headers == [("X-Long", "one two"), ("Content-Length", "0")]


def test_interim_responses_are_skipped():
    head, _ = head_of(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    assert (head.status, head.reason) == (201, "Created")


@pytest.mark.parametrize(("raw", "method", "mode", "keep_alive"), [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", "chunked", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", "none", True),
    (b"HTTP/1.1 204 No Content\r\n\r\n", "GET", "none", True),
    (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", "GET", "none", True),
    (b"HTTP/1.1 200 OK\r\n\r\n", "GET", "close", False),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", "GET", "length", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", "length", False),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", "close", False),
])
def test_body_framing(raw, method, mode, keep_alive):
    head, _ = head_of(raw, method)
    assert (head.mode, head.keep_alive) == (mode, keep_alive)


def test_transfer_encoding_overrides_and_removes_content_length():
    head, _ = head_of(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert head.mode == "chunked"
    assert head.headers == [("Transfer-Encoding", "chunked")]


@pytest.mark.parametrize("raw", [
    b"HTTP/2 200 OK\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Cut: off",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 300 + b"\r\n",
])
def test_malformed_responses_are_refused(raw):
    with pytest.raises(FramingError):
        head_of(raw)


def test_chunked_bodies_are_decoded_and_trailers_dropped():
    stream = io.BufferedReader(io.BytesIO(b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 1\r\n\r\nNEXT"))
    assert b"".join(dechunk(stream)) == b"hello world"
    assert stream.read() == b"NEXT"


@pytest.mark.parametrize("raw", [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhel", b"5\r\nhelloXX0\r\n\r\n", b"3\r\nabc\r\n"])
def test_broken_chunked_bodies_are_refused(raw):
    with pytest.raises(FramingError):
        b"".join(dechunk(io.BufferedReader(io.BytesIO(raw))))
