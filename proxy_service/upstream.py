"""A lean HTTP/1.1 client for one backend: a keep-alive connection pool and a strict response reader.

It sends bytes it is given and hands back the status, the raw header lines and the body
exactly as the backend framed them (never decoded, so gzip stays gzip). Connection and
response errors become :class:`UpstreamError` with a ``kind``: ``refused`` (no connection),
``timeout`` (connect or read took too long) or ``broken`` (anything after connecting).
"""

from __future__ import annotations

import socket
import time
from collections import deque
from collections.abc import Callable, Iterator

from proxy_service.config import UpstreamAddress
from proxy_service.http1 import CHUNK, MAX_LINE, Head, dechunk, exactly, read_head

REFUSED, TIMEOUT, BROKEN = "refused", "timeout", "broken"
# Methods a stale keep-alive connection may be retried for: the request did not reach the backend.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FRESH_SECONDS = 1.0


class UpstreamError(Exception):
    """The backend could not be reached or did not answer properly."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Stale(Exception):
    """A pooled connection turned out to be closed before anything came back."""


class Connection:
    """One keep-alive socket and its buffered reader."""

    __slots__ = ("idle_since", "rfile", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=CHUNK)
        self.idle_since = 0.0

    def is_alive(self) -> bool:
        """Tell, without blocking, whether the backend has not closed this idle connection."""
        sock = self.sock
        timeout = sock.gettimeout()
        sock.settimeout(0.0)
        try:
            # A live idle connection has nothing to read; EOF or stray bytes mean it cannot be reused.
            sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            sock.settimeout(timeout)
        return False

    def close(self) -> None:
        """Close the reader and the socket."""
        self.rfile.close()
        self.sock.close()


class Response:
    """A backend's answer: ``status``, ``reason``, ``headers`` (name, value pairs in order) and the body.

    ``body`` holds a short body once ``read_whole()`` ran; otherwise ``chunks()`` streams it.
    """

    __slots__ = ("_conn", "_head", "_upstream", "body", "headers", "reason", "status")

    def __init__(self, upstream: Upstream, conn: Connection, head: Head) -> None:
        self._upstream, self._conn, self._head = upstream, conn, head
        self.status, self.reason, self.headers = head.status, head.reason, head.headers
        self.body: bytes | None = None

    @property
    def short(self) -> bool:
        """Tell whether the body fits in memory comfortably: no body or a small known length."""
        head = self._head
        return head.mode == "none" or (head.mode == "length" and head.length <= self._upstream.buffer_limit)

    def read_whole(self) -> bytes:
        """Read a body known to be short, keep it in ``body`` and give the connection back.

        :raises UpstreamError: when the backend sends less than it announced.
        """
        length = self._head.length if self._head.mode == "length" else 0
        body = b""
        if length:
            try:
                body = self._conn.rfile.read(length)
            except OSError as error:
                self.close()
                raise _error_after_connect(error) from None
            if len(body) != length:
                self.close()
                raise UpstreamError(BROKEN, f"{self._upstream.name} closed the response early")
        self.body = body
        self._finish()
        return body

    def chunks(self) -> Iterator[bytes]:
        """Yield the body as it arrives, then give the connection back.

        :raises UpstreamError: when the backend stops or breaks the framing midway.
        """
        rfile, head = self._conn.rfile, self._head
        try:
            if head.mode == "length":
                yield from exactly(rfile, head.length)
            elif head.mode == "chunked":
                yield from dechunk(rfile)
            elif head.mode == "close":
                while data := rfile.read1(CHUNK):
                    yield data
        except (OSError, ValueError) as error:
            self.close()
            raise _error_after_connect(error) from None
        self._finish()

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._head.keep_alive:
                self._upstream.release(conn)
            else:
                conn.close()

    def close(self) -> None:
        """Drop the connection unless the body was read to its end."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _error_after_connect(error: BaseException) -> UpstreamError:
    if isinstance(error, TimeoutError):
        return UpstreamError(TIMEOUT, "timed out reading the response")
    return UpstreamError(BROKEN, f"bad or broken response: {error}")


class Upstream:
    """A backend's address, timeouts and pool of idle keep-alive connections (one per worker process)."""

    def __init__(self, name: str, address: UpstreamAddress, *, connect_timeout: float, read_timeout: float,
                 pool_size: int = 64, idle_seconds: float = 3.0, buffer_limit: int = 256 * 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.address = address
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool_size = pool_size
        # Below the 5 s keep-alive of the services' gunicorn, so a backend rarely closes one under us.
        self.idle_seconds = idle_seconds
        self.buffer_limit = buffer_limit
        self._clock = clock
        self._idle: deque[Connection] = deque()

    def connect(self, timeout: float | None = None) -> Connection:
        """Open a new connection.

        :raises UpstreamError: ``refused`` or ``timeout``.
        """
        try:
            sock = socket.create_connection((self.address.host, self.address.port),
                                            timeout=timeout or self.connect_timeout)
        except TimeoutError:
            raise UpstreamError(TIMEOUT, f"connecting to {self.name} timed out") from None
        except OSError as error:
            raise UpstreamError(REFUSED, f"cannot connect to {self.name}: {error.strerror or error}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        return Connection(sock)

    def _checkout(self, method: str) -> Connection | None:
        idle, now = self._idle, self._clock()
        # An idempotent request on a connection the backend closed is simply sent again on a new one,
        # so only a write, or a connection idle long enough to have been closed, pays for the check.
        check_after = 0.0 if method not in IDEMPOTENT else FRESH_SECONDS
        while idle:
            try:
                conn = idle.pop()
            except IndexError:
                break
            if now - conn.idle_since > self.idle_seconds:
                # The newest idle connection is too old, so all of them are.
                conn.close()
                while idle:
                    idle.popleft().close()
                break
            if now - conn.idle_since < check_after or conn.is_alive():
                return conn
            conn.close()
        return None

    def release(self, conn: Connection) -> None:
        """Keep a connection whose response was read to its end for the next request."""
        if len(self._idle) >= self.pool_size:
            conn.close()
            return
        conn.idle_since = self._clock()
        self._idle.append(conn)

    def close_idle(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()

    def send(self, method: str, head: bytes, body: bytes = b"") -> Response:
        """Send a request (``head`` ends with the blank line) and read the response's status and headers.

        :raises UpstreamError: when the backend cannot be reached or answers badly.
        """
        conn = self._checkout(method)
        if conn is not None:
            try:
                return self._exchange(conn, method, head, body)
            except _Stale:
                conn.close()
                if method not in IDEMPOTENT:
                    raise UpstreamError(BROKEN, f"{self.name} closed the connection before answering") from None
        conn = self.connect()
        try:
            return self._exchange(conn, method, head, body)
        except _Stale:
            conn.close()
            raise UpstreamError(BROKEN, f"{self.name} closed the connection before answering") from None

    def _exchange(self, conn: Connection, method: str, head: bytes, body: bytes) -> Response:
        try:
            if len(body) <= CHUNK:
                conn.sock.sendall(head + body)
            else:
                conn.sock.sendall(head)
                conn.sock.sendall(body)
            line = conn.rfile.readline(MAX_LINE)
        except (BrokenPipeError, ConnectionResetError):
            raise _Stale from None
        except OSError as error:
            conn.close()
            raise _error_after_connect(error) from None
        if not line:
            raise _Stale
        try:
            parsed = read_head(conn.rfile, method, line)
        except (OSError, ValueError) as error:
            conn.close()
            raise _error_after_connect(error) from None
        return Response(self, conn, parsed)

    def probe(self, target: str, timeout: float) -> int:
        """Send ``GET target`` on a fresh connection and return the status code.

        :raises UpstreamError: when the backend cannot be reached or answers badly.
        """
        conn = self.connect(timeout)
        try:
            conn.sock.settimeout(timeout)
            head = f"GET {target} HTTP/1.1\r\nHost: {self.address.host_header}\r\nConnection: close\r\n\r\n"
            response = self._exchange(conn, "GET", head.encode("latin-1"), b"")
        except _Stale:
            raise UpstreamError(BROKEN, f"{self.name} closed the connection before answering") from None
        finally:
            conn.close()
        return response.status
