"""A backend under real gunicorn on a private database, and raw HTTP exchanges with it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.server import GunicornServer


@contextmanager
def served_monolith(database_url: str, log_path: Path, **env: str) -> Iterator[GunicornServer]:
    """Run the monolith with its own gunicorn settings module on ``database_url``."""
    server = GunicornServer("monolith.gunicorn_conf", "monolith.app:create_app()",
                            {"DB_CONNECTION_STRING": database_url, "WEB_CONCURRENCY": "1", **env}, log_path)
    try:
        yield server
    finally:
        server.stop()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response (a Content-Length body) or whatever arrives before the connection closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def exchange(port: int, request: bytes, *, half_close: bool = False) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` on a fresh connection (then, with ``half_close``, end our side) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_response(sock)
