"""What the gateway sends upstream and hands back: hop-by-hop headers gone, the rest untouched."""

from __future__ import annotations

import io

import pytest

from proxy_service.config import UpstreamAddress
from proxy_service.forwarding import (
    AnswerThenDiscard,
    BadBody,
    BodyTooLarge,
    read_body,
    request_headers,
    request_id_of,
    request_target,
    response_headers,
)
from proxy_service.locations import rewrite_location

BACKEND = UpstreamAddress.parse("X", "http://127.0.0.1:8080")


def environ(**extra):
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/movies", "QUERY_STRING": "", "RAW_URI": "/api/movies",
            "REMOTE_ADDR": "10.1.2.3", "wsgi.url_scheme": "http", "HTTP_HOST": "cinema.example:8000",
            "wsgi.input": io.BytesIO(b"")}
    base.update(extra)
    return base


def sent_headers(env, body_length=0):
    return request_headers(env, "backend:8080", "rid-1", body_length)


def test_hop_by_hop_and_connection_named_headers_are_not_sent():
    headers = sent_headers(environ(
        HTTP_CONNECTION="keep-alive, X-Secret, Foo", HTTP_X_SECRET="s", HTTP_FOO="f", HTTP_KEEP_ALIVE="timeout=5",
        HTTP_PROXY_CONNECTION="keep-alive", HTTP_TE="trailers", HTTP_TRAILER="X-Sum", HTTP_UPGRADE="h2c",
        HTTP_TRANSFER_ENCODING="chunked", HTTP_EXPECT="100-continue", HTTP_X_KEPT="yes", HTTP_ACCEPT="*/*"))
    names = {name.lower() for name in headers}
    for dropped in ("connection", "x-secret", "foo", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                    "transfer-encoding", "expect"):
        assert dropped not in names
    assert (headers["X-Kept"], headers["Accept"]) == ("yes", "*/*")


def test_host_forwarded_headers_and_request_id_are_set():
    headers = sent_headers(environ())
    assert headers["Host"] == "backend:8080"
    assert {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "cinema.example:8000",
            "X-Request-ID": "rid-1"}.items() <= headers.items()
    assert sum(name.lower() == "host" for name in headers) == 1


def test_an_earlier_proxy_chain_is_extended():
    headers = sent_headers(environ(HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_X_FORWARDED_PROTO="https",
                                   HTTP_X_FORWARDED_HOST="cinema.example"))
    assert {"X-Forwarded-For": "203.0.113.9, 10.1.2.3", "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "cinema.example"}.items() <= headers.items()


def test_bodies_get_their_length_and_type():
    headers = sent_headers(environ(REQUEST_METHOD="POST", CONTENT_TYPE="application/json"), body_length=12)
    assert {"Content-Type": "application/json", "Content-Length": "12"}.items() <= headers.items()
    assert sent_headers(environ(REQUEST_METHOD="POST"))["Content-Length"] == "0"
    assert "Content-Length" not in sent_headers(environ())


@pytest.mark.parametrize(("raw", "target"), [
    ("/api/movies/\xd1\x84\xd0\xb8?q=\xc3\xbc", "/api/movies/%D1%84%D0%B8?q=%C3%BC"),
    ("/api/movies/%d1%84?a=b%20c&a=d", "/api/movies/%d1%84?a=b%20c&a=d"),
    ("/api/mo%2576ies?x=%2F", "/api/mo%2576ies?x=%2F"),
    ("http://cinema.example/api/mo%2576ies?x=%20", "/api/mo%2576ies?x=%20"),
    ("http://cinema.example", "/"),
])
def test_the_target_passes_as_sent_with_non_ascii_bytes_encoded(raw, target):
    assert request_target(environ(RAW_URI=raw)) == target


def test_without_a_raw_target_it_is_rebuilt_and_never_decoded_twice():
    env = environ(PATH_INFO="/api/mo%76ies/a b", QUERY_STRING="q=1")
    del env["RAW_URI"]
    assert request_target(env) == "/api/mo%2576ies/a%20b?q=1"


@pytest.mark.parametrize(("sent", "kept"), [("abc-123", True), ("", False), ("has space", False), ("x" * 201, False)])
def test_request_ids_are_kept_when_sane(sent, kept):
    request_id = request_id_of({"HTTP_X_REQUEST_ID": sent} if sent else {})
    assert (request_id == sent) is kept
    assert request_id


class Answer:
    def __init__(self, headers):
        self.headers = headers


def test_response_headers_lose_hop_by_hop_and_gain_x_upstream():
    answer = Answer([("Set-Cookie", "a=1"), ("Connection", "keep-alive, X-Private"), ("X-Private", "p"),
                     ("Keep-Alive", "timeout=5"), ("Set-Cookie", "b=2"), ("Content-Encoding", "gzip"),
                     ("Proxy-Connection", "x"), ("Trailer", "X-Sum"), ("Upgrade", "h2"), ("Content-Length", "10")])
    assert response_headers(answer, "monolith", "rid-9") == [
        ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Encoding", "gzip"), ("Content-Length", "10"),
        ("X-Upstream", "monolith"), ("X-Request-ID", "rid-9")]


def test_transfer_encoding_takes_content_length_with_it():
    answer = Answer([("Content-Length", "3"), ("Transfer-Encoding", "chunked"), ("X-Request-ID", "b")])
    assert response_headers(answer, "monolith", "rid-9") == [("X-Request-ID", "b"), ("X-Upstream", "monolith")]


def test_locations_naming_the_backend_are_rewritten():
    answer = Answer([("Location", "http://127.0.0.1:8080/api/users?a=1"),
                     ("Content-Location", "HTTP://127.0.0.1:8080"), ("Link", "<http://127.0.0.1:8080/x>")])
    headers = response_headers(answer, "monolith", "r", backend=BACKEND, client_base="https://cinema.example")
    assert headers[:3] == [("Location", "https://cinema.example/api/users?a=1"),
                           ("Content-Location", "https://cinema.example/"), ("Link", "<http://127.0.0.1:8080/x>")]


@pytest.mark.parametrize("value", [
    "/api/users", "http://127.0.0.1:8081/api", "https://127.0.0.1:8080/api", "http://other:8080/",
    "http://user@127.0.0.1:8080/", "http://127.0.0.1:bad/", "mailto:x@127.0.0.1",
])
def test_other_locations_pass_unchanged(value):
    assert rewrite_location(value, BACKEND, "http://cinema.example") == value


def test_the_default_port_is_the_same_address():
    backend = UpstreamAddress.parse("X", "http://monolith")
    assert rewrite_location("http://MONOLITH:80/a#f", backend, "http://c:8000") == "http://c:8000/a#f"


def test_a_body_over_the_limit_is_refused_unread_then_dropped_piece_by_piece_after_the_answer():
    read_sizes = []

    class Unbuffered(io.RawIOBase):
        def read(self, size=-1):
            read_sizes.append(size)
            return b"x" * size

    stream = Unbuffered()
    with pytest.raises(BodyTooLarge) as refused:
        read_body({"CONTENT_LENGTH": "200000", "wsgi.input": stream}, 10)
    assert (refused.value.unread, read_sizes) == (200000, []), "refused from its length alone"
    answer = AnswerThenDiscard(b'{"error": "too large"}', stream, refused.value.unread)
    assert (list(answer), read_sizes) == ([b'{"error": "too large"}'], [])
    answer.close()
    assert read_sizes == [65536, 65536, 65536, 3392], "read whole, a refused body would cost memory"
    assert read_body({"CONTENT_LENGTH": "10", "wsgi.input": io.BytesIO(b"x" * 10)}, 10) == b"x" * 10


def test_chunked_uploads_are_limited_too():
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked"}
    with pytest.raises(BodyTooLarge):
        read_body({**chunked, "wsgi.input": io.BytesIO(b"x" * 11)}, 10)
    assert read_body({**chunked, "wsgi.input": io.BytesIO(b"x" * 10)}, 10) == b"x" * 10


def test_a_body_shorter_than_its_length_is_refused():
    with pytest.raises(BadBody, match="shorter than its Content-Length"):
        read_body({"CONTENT_LENGTH": "10", "wsgi.input": io.BytesIO(b"x" * 4)}, 100)


def test_an_unreadable_body_is_refused():
    class Broken(io.RawIOBase):
        def read(self, size=-1):
            raise ValueError("bad chunk size")

    with pytest.raises(BadBody, match="could not be read"):
        read_body({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": Broken()}, 100)
