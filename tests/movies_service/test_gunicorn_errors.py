"""Requests gunicorn refuses before the app sees them get gunicorn's own short HTML page, as openapi.yaml says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from devstack.net import free_port, wait_for_port


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """The movies service under gunicorn with its own settings module; no database is needed to refuse."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "BIND_HOST": "127.0.0.1", "WEB_CONCURRENCY": "1",
           "DB_CONNECTION_STRING": f"postgresql://nobody@127.0.0.1:{free_port()}/none"}
    command = [sys.executable, "-m", "gunicorn", "-c", "python:movies_service.gunicorn_conf",
               "movies_service.app:create_app()"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def exchange(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.mark.parametrize(("request_bytes", "status", "reason"), [
    (b"GET /api/movies?id=" + b"1" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "414", "URI Too Long"),
    (b"GET /api/movies HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", "431",
     "Request Header Fields Too Large"),
    (b"NOT A REQUEST\r\n\r\n", "400", "Bad Request"),
    (b"POST /api/movies HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}", "417",
     "Expectation Failed"),
    (b"POST /api/movies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n0\r\n\r\n", "501",
     "Bad Request"),
])
def test_gunicorns_own_errors_are_its_html_page(server, request_bytes, status, reason):
    status_line, headers, body = exchange(server, request_bytes)
    assert status_line.split()[1] == status
    assert headers["content-type"] == "text/html"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    assert body.startswith(f"<html>\n  <head>\n    <title>{reason}</title>".encode())
