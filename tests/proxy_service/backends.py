"""Real HTTP servers on loopback for the gateway tests: echoing backends, raw-byte backends, a gunicorn gateway."""

from __future__ import annotations

import contextlib
import gzip
import json
import signal
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import devstack.server
from devstack.net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away (the gateway dropping a connection) is normal here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """A socketserver on a free port of 127.0.0.1, served by a daemon thread until :meth:`stop`."""

    def serve(self, server: socketserver.BaseServer) -> None:
        """Start serving ``server`` (threads per connection, as daemons) and set ``port`` and ``url``."""
        self._server = server
        server.daemon_threads = True
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class Backend(LoopbackServer):
    """A threaded HTTP/1.1 keep-alive server that answers every path with a JSON echo of what it received.

    The echo holds the method, the raw request target, the headers (names lower-cased), the
    body and the client's port. Tests steer it through attributes (``status``, ``delay``) or
    request headers (``X-Test-Cookies``, ``X-Test-Gzip``, ``X-Test-Location``, ``X-Test-Size``,
    ``X-Test-Status``). ``answered`` counts the responses written to their end.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.status: int | None = None
        self.delay = 0.0
        self.received: list[dict[str, Any]] = []
        self.answered = 0
        self._connections: set[socket.socket] = set()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Like gunicorn: no Nagle delay, and a response leaves in one write once it is complete.
            disable_nagle_algorithm = True
            wbufsize = -1

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

            def setup(self) -> None:
                super().setup()
                backend._connections.add(self.connection)

            def answer(self) -> None:
                backend.answer(self)
                self.wfile.flush()
                backend.answered += 1

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = answer

        self.serve(_QuietServer(("127.0.0.1", 0), Handler))

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request."""
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in handler.headers.items()}
        seen = {"backend": self.name, "method": handler.command, "target": handler.path, "headers": headers,
                "header_lines": list(handler.headers.items()), "body": body.decode("latin-1"),
                "peer_port": handler.client_address[1]}
        self.received.append(seen)
        if self.delay:
            time.sleep(self.delay)
        status = self.status or int(headers.get("x-test-status", 200))
        handler.send_response(status)
        if "x-test-size" in headers:
            self._stream(handler, int(headers["x-test-size"]))
            return
        payload = json.dumps(seen).encode()
        handler.send_header("Content-Type", "application/json")
        if "x-test-location" in headers:
            handler.send_header("Location", headers["x-test-location"])
            handler.send_header("Content-Location", headers["x-test-location"])
        for number in range(int(headers.get("x-test-cookies", 0))):
            handler.send_header("Set-Cookie", f"c{number}=v{number}; Path=/")
        if headers.get("x-test-gzip"):
            payload = gzip.compress(payload)
            handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)

    @staticmethod
    def _stream(handler: BaseHTTPRequestHandler, size: int) -> None:
        # No Content-Length: a chunked body the gateway must stream, not hold.
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        block = bytes(range(256)) * 256
        sent = 0
        while sent < size:
            piece = block[: min(len(block), size - sent)]
            sent += len(piece)
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\n\r\n")

    def stop(self) -> None:
        """Stop like a process that exits: no more connections, and the open ones are closed."""
        super().stop()
        for connection in list(self._connections):
            # Already closed by its peer: nothing left to stop.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class RawBackend(LoopbackServer):
    """A server that reads one request per connection and writes back exactly the bytes it is given."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.requests: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                outer.requests.append(data)
                self.request.sendall(outer.response)

        self.serve(socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler))


class GunicornServer(devstack.server.GunicornServer):
    """A service under gunicorn with its own gunicorn settings module, its output kept in a file."""

    def __init__(self, package: str, env: dict[str, str], log_path: Path) -> None:
        super().__init__(f"{package}.gunicorn_conf", f"{package}.app:create_app()",
                         {"WEB_CONCURRENCY": "2", **env}, log_path)

    def access_lines(self) -> list[dict[str, Any]]:
        """Return the JSON access-log lines written so far."""
        lines = [line for line in self.log().splitlines() if line.startswith("{")]
        return [entry for entry in map(json.loads, lines) if entry.get("logger") == "proxy_service.access"]

    def stop(self) -> int:
        """Stop the master and its workers (quick shutdown: tests need no grace period)."""
        return super().stop(signal.SIGINT, timeout=20)


class GunicornGateway(GunicornServer):
    """The real gateway under gunicorn (``proxy_service.gunicorn_conf``), its admin port free too (``admin_url``)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.admin_port = int(env.get("ADMIN_PORT") or free_port())
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        super().__init__("proxy_service", {**env, "ADMIN_PORT": str(self.admin_port)}, log_path)
        try:
            wait_for_port(self.admin_port, timeout=30)
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"the gateway's admin port did not open; its log:\n{self.log()[-3000:]}") from None


def raw_exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send raw request bytes and return everything the server sends until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def unused_url() -> str:
    """Return a loopback URL where nothing listens: connections to it are refused."""
    return f"http://127.0.0.1:{free_port()}"


class StrayBytesBackend(LoopbackServer):
    """A keep-alive server that sends bytes after a 204 to ``/api/no-content`` and ``ok`` to anything else.

    ``connections`` counts the connections it accepted.
    """

    NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
    OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self) -> None:
        self.connections = 0
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer.connections += 1
                data = b""
                while True:
                    while b"\r\n\r\n" not in data:
                        chunk = self.request.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    head, _, data = data.partition(b"\r\n\r\n")
                    if b" /api/no-content " not in head:
                        self.request.sendall(outer.OK)
                        continue
                    self.request.sendall(outer.NO_CONTENT)
                    # Later than the answer, so they wait on the idle connection instead of in its read buffer.
                    time.sleep(0.05)
                    self.request.sendall(b"stray bytes after a 204")

        self.serve(socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler))
