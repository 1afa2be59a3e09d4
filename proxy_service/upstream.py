"""One backend, reached through ``requests``: a Session and its pooled ``HTTPAdapter``, per backend and worker.

The session is set up in :mod:`proxy_service.session`.

A request is a ``PreparedRequest`` built here, with the URL set to the backend's address
plus the target exactly as the client sent it, so ``requests`` never re-quotes or decodes
it (:mod:`proxy_service.raw_target` keeps urllib3 from normalizing it on the way). It is
sent with ``HTTPAdapter.send``, with ``stream=True`` (an adapter never follows redirects)
and a ``(connect, read)`` timeout. The answer comes from ``response.raw``: headers from
``raw.headers`` (repeated ones kept), the body read with ``decode_content=False``, so gzip
stays gzip. A body up to ``buffer_limit`` is read whole before the client sees anything;
a longer one streams. Failures become :class:`UpstreamError` with a ``kind``: ``refused``
(no connection), ``timeout`` (connect or read took too long) or ``broken`` (anything else
after connecting).
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import requests
from urllib3.exceptions import (
    HTTPError,
    IncompleteRead,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import SKIP_HEADER

from proxy_service.config import UpstreamAddress
from proxy_service.raw_target import TARGET_HEADER
from proxy_service.session import CLOSED, backend_session

REFUSED, TIMEOUT, BROKEN = "refused", "timeout", "broken"
CHUNK = 64 * 1024


class UpstreamError(Exception):
    """The backend could not be reached or did not answer properly.

    ``request_caused`` is true when the request itself may be why (the backend closed the
    connection while a request body was on its way), so the backend is not blamed for it.
    """

    def __init__(self, kind: str, message: str, *, request_caused: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.request_caused = request_caused


class Response:
    """A backend's answer: ``status``, ``reason``, ``headers`` (name, value pairs) and the body.

    ``body`` holds a body read whole; when it is None the body is longer than the buffer
    and ``chunks()`` streams it.
    """

    __slots__ = ("_prefix", "_raw", "_rest", "_upstream", "body", "headers", "reason", "status")

    def __init__(self, upstream: Upstream, raw) -> None:
        self._upstream, self._raw = upstream, raw
        self.status, self.reason = raw.status, raw.reason or ""
        self.headers: list[tuple[str, str]] = list(raw.headers.items())
        self.body: bytes | None = None
        self._prefix: list[bytes] = []
        self._rest: Iterator[bytes] | None = None

    def read(self, limit: int) -> None:
        """Read the body whole when it is at most ``limit`` bytes, else its first part and keep the rest to stream.

        :raises UpstreamError: when the backend breaks off or the read times out.
        """
        raw, headers = self._raw, self._raw.headers
        length = headers.get("Content-Length", "")
        try:
            if length.isdigit() and int(length) <= limit and "Transfer-Encoding" not in headers:
                self.body = raw.read(decode_content=False)
                return
            pieces, size = [], 0
            rest = raw.stream(CHUNK, decode_content=False)
            for piece in rest:
                pieces.append(piece)
                size += len(piece)
                if size > limit:
                    self._prefix, self._rest = pieces, rest
                    return
            self.body = b"".join(pieces)
        except (HTTPError, OSError) as error:
            self.close()
            raise _after_connect(self._upstream.name, error) from None

    def chunks(self) -> Iterator[bytes]:
        """Yield a long body as it arrives; the connection goes back to the pool once it is read to its end.

        :raises UpstreamError: when the backend stops or breaks the framing midway.
        """
        prefix, self._prefix = self._prefix, []
        yield from prefix
        try:
            yield from self._rest or ()
        except (HTTPError, OSError) as error:
            self.close()
            raise _after_connect(self._upstream.name, error) from None

    def close(self) -> None:
        """Drop the connection unless the body was read to its end (then it is already back in the pool)."""
        self._raw.close()


def _after_connect(name: str, error: BaseException) -> UpstreamError:
    cause = _innermost(error)
    if isinstance(cause, (ReadTimeoutError, TimeoutError)):
        return UpstreamError(TIMEOUT, "timed out reading the response")
    if isinstance(cause, (IncompleteRead, http.client.IncompleteRead)):
        return UpstreamError(BROKEN, f"{name} closed the response early")
    return UpstreamError(BROKEN, f"bad or broken response from {name}: {cause}")


def _innermost(error: BaseException) -> BaseException:
    while True:
        if isinstance(error, requests.RequestException) and error.args and isinstance(error.args[0], BaseException):
            error = error.args[0]
        elif isinstance(error, MaxRetryError) and error.reason is not None:
            error = error.reason
        elif isinstance(error, ProtocolError) and len(error.args) > 1 and isinstance(error.args[1], BaseException):
            error = error.args[1]
        else:
            return error


class Upstream:
    """A backend's address, timeouts and ``requests`` session (one per backend and worker process)."""

    def __init__(self, name: str, address: UpstreamAddress, *, connect_timeout: float, read_timeout: float,
                 pool_size: int = 64, buffer_limit: int = 8 * 1024 * 1024) -> None:
        self.name = name
        self.address = address
        self.timeout = (connect_timeout, read_timeout)
        self.buffer_limit = buffer_limit
        self.session, self.adapter = backend_session(pool_size)

    def close_idle(self) -> None:
        """Close every pooled connection."""
        self.session.close()

    def send(self, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> Response:
        """Send a request (``target`` as the client sent it) and read its answer, whole up to the buffer limit.

        :raises UpstreamError: when the backend cannot be reached or answers badly.
        """
        response = Response(self, self._send(method, target, headers, body, self.timeout).raw)
        if response.status == 101:
            # The gateway passes no Upgrade header on, so a switch of protocols is a broken answer.
            response.close()
            raise UpstreamError(BROKEN, f"{self.name} switched protocols, which the gateway does not proxy")
        response.read(self.buffer_limit)
        return response

    def _send(self, method: str, target: str, headers: dict[str, str], body: bytes,
              timeout: tuple[float, float]) -> requests.Response:
        prepared = requests.PreparedRequest()
        prepared.method = method
        # Set directly, not through prepare_url, so that the target is never re-quoted or decoded.
        prepared.url = self.address.url + target
        # Without these urllib3 and http.client would add headers the client never sent.
        headers.setdefault("User-Agent", SKIP_HEADER)
        headers.setdefault("Accept-Encoding", SKIP_HEADER)
        headers[TARGET_HEADER] = target
        prepared.headers = headers
        prepared.body = body or None
        try:
            return self.adapter.send(prepared, stream=True, timeout=timeout)
        except requests.ConnectTimeout:
            raise UpstreamError(TIMEOUT, f"connecting to {self.name} timed out") from None
        except requests.RequestException as error:
            cause = _innermost(error)
            if isinstance(cause, NewConnectionError):
                reason = getattr(cause.__cause__, "strerror", None) or cause
                raise UpstreamError(REFUSED, f"cannot connect to {self.name}: {reason}") from None
            if isinstance(cause, CLOSED):
                raise UpstreamError(BROKEN, f"{self.name} closed the connection before answering",
                                    request_caused=bool(body)) from None
            raise _after_connect(self.name, error) from None

    def probe(self, target: str, timeout: float) -> int:
        """Send ``GET target`` on a connection closed afterwards and return the status code.

        :raises UpstreamError: when the backend cannot be reached or answers badly.
        """
        headers = {"Host": self.address.host_header, "Connection": "close"}
        raw = self._send("GET", target, headers, b"", (timeout, timeout)).raw
        try:
            raw.read(decode_content=False)
        except (HTTPError, OSError) as error:
            raise _after_connect(self.name, error) from None
        finally:
            raw.close()
        return raw.status
