"""The services' gunicorn pieces: access lines and responses as gunicorn writes them, built for less."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from gunicorn import glogging, util
from gunicorn.config import Config
from gunicorn.http import wsgi

from cinema_common.serving import AccessLogger, CoalescingResponse, gunicorn_settings
from monolith.config import Config as MonolithConfig

ENVIRON = {
    "REMOTE_ADDR": "10.1.2.3", "REQUEST_METHOD": "POST", "RAW_URI": "/api/events/movie?x=1",
    "PATH_INFO": "/api/events/movie", "QUERY_STRING": "x=1", "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_USER_AGENT": "curl/8.5", "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",
}


def _line(logger_class: type[glogging.Logger], access_log_format: str | None, status: str | int) -> str:
    config = Config()
    if access_log_format is not None:
        config.set("access_log_format", access_log_format)
    logger = logger_class(config)
    logger.now = lambda: "[26/Nov/2026:08:00:00 +0000]"  # the same instant for both loggers
    response = SimpleNamespace(status=status, sent=214, headers=[("Content-Type", "application/json")])
    request = SimpleNamespace(headers=[("Host", "events"), ("User-Agent", "curl/8.5")])
    took = datetime.timedelta(seconds=1, microseconds=2345)
    atoms = logger.atoms_wrapper_class(logger.atoms(response, request, ENVIRON, took))
    return config.access_log_format % atoms


@pytest.mark.parametrize("access_log_format", [
    None,  # gunicorn's default, the one the services use
    '%(h)s %(u)s %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(T)s %(D)s %(M)s %(L)s %(p)s "%(f)s"',
    '%(r)s %({host}i)s %({content-type}o)s %({remote_addr}e)s',  # per-header atoms: gunicorn's own path
])
@pytest.mark.parametrize("status", ["201 CREATED", 404])
def test_access_lines_are_those_gunicorn_writes(access_log_format, status):
    assert _line(AccessLogger, access_log_format, status) == _line(glogging.Logger, access_log_format, status)


def test_the_default_line_has_every_field():
    assert _line(AccessLogger, None, "201 CREATED") == (
        '10.1.2.3 - alice [26/Nov/2026:08:00:00 +0000] "POST /api/events/movie?x=1 HTTP/1.1" 201 214 "-" "curl/8.5"')


class _Socket:
    """Records what each ``sendall`` carried."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))


def _sends(response_class: type[wsgi.Response], method: str, version: tuple[int, int], status: str,
           headers: list[tuple[str, str]], chunks: list[bytes]) -> list[bytes]:
    request = SimpleNamespace(method=method, version=version, should_close=lambda: False)
    sock = _Socket()
    response = response_class(request, sock, Config())
    write = response.start_response(status, headers)
    for chunk in chunks:
        write(chunk)
    response.close()
    return sock.sends


@pytest.mark.parametrize(("method", "version", "status", "headers", "chunks", "ours", "theirs"), [
    ("GET", (1, 1), "200 OK", [("Content-Length", "5")], [b"hello"], 1, 2),
    ("GET", (1, 1), "200 OK", [("Content-Length", "5")], [b"hel", b"lo"], 2, 3),
    ("GET", (1, 1), "200 OK", [("Content-Length", "3")], [b"hello"], 2, 2),  # cut to its length: gunicorn's way
    ("GET", (1, 1), "200 OK", [], [b"hel", b"lo"], 4, 4),  # chunked: gunicorn's way
    ("GET", (1, 0), "200 OK", [], [b"hello"], 1, 2),  # HTTP/1.0 without a length: the body runs to the close
    ("HEAD", (1, 1), "200 OK", [("Content-Length", "5")], [b"hello"], 1, 1),  # the body does not go out
    ("GET", (1, 1), "204 No Content", [], [], 1, 1),
])
def test_responses_are_the_bytes_gunicorn_sends_in_fewer_sends(monkeypatch, method, version, status, headers,
                                                              chunks, ours, theirs):
    monkeypatch.setattr(util, "http_date", lambda: "Thu, 26 Nov 2026 08:00:00 GMT")
    coalesced = _sends(CoalescingResponse, method, version, status, headers, chunks)
    # gunicorn's own class: wsgi.Response itself is replaced once any test has called gunicorn_settings.
    gunicorns = _sends(CoalescingResponse.__base__, method, version, status, headers, chunks)
    assert b"".join(coalesced) == b"".join(gunicorns)
    assert (len(coalesced), len(gunicorns)) == (ours, theirs)


def test_the_services_gunicorn_settings_put_the_coalescing_response_in_place():
    gunicorn_settings(lambda: MonolithConfig.from_env({}), "monolith", environ={})
    assert wsgi.Response is CoalescingResponse
