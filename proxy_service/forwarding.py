"""Moving bytes: the WSGI request becomes an upstream request, the upstream response a WSGI response.

Method, target (path and query exactly as received), body and end-to-end headers pass
unchanged; hop-by-hop headers (RFC 9110 section 7.6.1) are dropped both ways, ``Host`` is
set for the backend, and ``X-Forwarded-For``/``-Proto``/``-Host`` and ``X-Request-ID`` are
added. Response bodies are never decoded, so a gzip body stays byte-for-byte intact.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

from gunicorn.http.errors import ParseException

from cinema_common.requestbody import only_chunked
from proxy_service.config import UpstreamAddress
from proxy_service.locations import REWRITTEN, rewrite_location
from proxy_service.upstream import Response

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade"})
# Request headers never copied from the client: hop-by-hop ones, those the gateway sets itself,
# and Expect, which gunicorn already answered (the gateway sends the body it has read).
_NOT_COPIED = frozenset({f"HTTP_{name.upper().replace('-', '_')}" for name in HOP_BY_HOP} | {
    "HTTP_HOST", "HTTP_EXPECT", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
    "HTTP_X_REQUEST_ID", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"})
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,200}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
DISCARD_BYTES = 16 * 1024 * 1024
_names: dict[str, str] = {}


class BodyTooLarge(Exception):
    """A request body over the configured limit; ``unread`` is how much of it is still on its way."""

    def __init__(self, unread: int) -> None:
        super().__init__(unread)
        self.unread = unread


class BadBody(Exception):
    """A request body that cannot be forwarded: cut short by the client, or with broken chunked framing."""


def request_id_of(environ: dict[str, Any]) -> str:
    """Return the client's ``X-Request-ID`` when it is a sane token, else a new one."""
    sent = environ.get("HTTP_X_REQUEST_ID")
    if sent and _REQUEST_ID.fullmatch(sent):
        return sent
    # 128 random bits like a UUID4, without a system call per request (random reseeds after fork).
    return f"{random.getrandbits(128):032x}"


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read the whole request body, refusing one longer than ``limit`` before reading it when possible.

    :raises BodyTooLarge: when the body is longer than ``limit``.
    :raises BadBody: when it is shorter than its ``Content-Length``, its chunked framing is broken, or
        a transfer coding other than chunked is applied.
    """
    if not only_chunked(environ.get("HTTP_TRANSFER_ENCODING", "")):
        raise BadBody("Transfer-Encoding other than chunked is not supported")
    length_text = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    try:
        if length_text:
            length = int(length_text)
            if length > limit:
                raise BodyTooLarge(length)
            body = stream.read(length) if length > 0 else b""
            if len(body) != length:
                raise BadBody("the request body is shorter than its Content-Length")
            return body
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return b""
        # A chunked upload has no announced length: read one byte past the limit to know.
        body = stream.read(limit + 1)
    except (OSError, ValueError, ParseException) as error:
        # The client went away, or gunicorn found the chunked framing broken.
        raise BadBody("the request body could not be read") from error
    if len(body) > limit:
        raise BodyTooLarge(DISCARD_BYTES)
    return body


def discard(stream: Any, length: int) -> None:
    """Read and drop up to ``length`` bytes (at most ``DISCARD_BYTES``) of a body that will not be used.

    A server that closes a connection with unread request bytes makes the kernel send a
    reset, which can destroy the answer before the client reads it; reading the rest first
    means the client gets its 413. A body past ``DISCARD_BYTES`` is not worth the wait.
    """
    left = min(length, DISCARD_BYTES)
    try:
        while left > 0 and (piece := stream.read(min(left, 65536))):
            left -= len(piece)
    except (OSError, ValueError, ParseException):
        # The client went away or framed the rest badly: it will not read the answer either.
        return


class AnswerThenDiscard:
    """A WSGI body that is ``answer``, then drops what is left of the request body.

    The answer (a 413) goes out as soon as the headers told the size, so a client that
    waits before sending its body gets it at once. The rest is read afterwards, when the
    server closes this body: a server that closes a connection with unread request bytes
    makes the kernel send a reset, which can destroy the answer before the client reads it.
    """

    def __init__(self, answer: bytes, stream: Any, unread: int) -> None:
        self._answer, self._stream, self._unread = answer, stream, unread

    def __iter__(self) -> Iterator[bytes]:
        yield self._answer

    def close(self) -> None:
        """Called by the WSGI server once the answer is sent: read and drop the rest of the request body."""
        discard(self._stream, self._unread)


def request_target(environ: dict[str, Any]) -> str:
    """Return the path and query exactly as the client sent them, non-ASCII bytes percent-encoded.

    An absolute-form target (``GET http://host/path``) gives its own path and query, raw;
    only when the server passed no raw target at all is one rebuilt from the decoded path,
    with every ``%`` quoted again, so the backend never decodes anything twice.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if raw and not raw.startswith("/"):
        parts = urlsplit(raw)
        raw = (parts.path or "/") + (f"?{parts.query}" if parts.query else "") if parts.scheme else ""
    if not raw:
        raw = quote(environ.get("PATH_INFO", "/"), safe="/;=,!$&'()*+:@~")
        if environ.get("QUERY_STRING"):
            raw = f"{raw}?{environ['QUERY_STRING']}"
    if raw.isascii():
        return raw
    # WSGI strings carry the raw bytes as latin-1; percent-encode those that HTTP does not allow.
    return quote(raw.encode("latin-1"), safe="/?#[]@!$&'()*+,;=:%~-._")


def _header_name(key: str) -> str:
    name = _names.get(key)
    if name is None:
        name = key[5:].replace("_", "-").title()
        if len(_names) < 1000:
            _names[key] = name
    return name


def client_host(environ: dict[str, Any]) -> str:
    """Return the host (and port) the client addressed: ``X-Forwarded-Host``, else ``Host``, else the server's."""
    return environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")


def client_scheme(environ: dict[str, Any]) -> str:
    """Return the scheme the client used: ``X-Forwarded-Proto``, else the server's."""
    return environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")


def request_headers(environ: dict[str, Any], host_header: str, request_id: str, body_length: int) -> dict[str, str]:
    """Return the headers to send upstream: the client's end-to-end ones, ``Host``, the ``X-Forwarded-*`` set."""
    headers = {"Host": host_header}
    connection = environ.get("HTTP_CONNECTION")
    named = _connection_named(connection, env_keys=True) if connection else ()
    for key, value in environ.items():
        if key[:5] == "HTTP_" and key not in _NOT_COPIED and key not in named:
            headers[_header_name(key)] = value
    content_type = environ.get("CONTENT_TYPE")
    if content_type:
        headers["Content-Type"] = content_type
    if body_length or environ["REQUEST_METHOD"] in _BODY_METHODS:
        headers["Content-Length"] = str(body_length)
    remote = environ.get("REMOTE_ADDR") or "unknown"
    earlier = environ.get("HTTP_X_FORWARDED_FOR")
    headers["X-Forwarded-For"] = f"{earlier}, {remote}" if earlier else remote
    headers["X-Forwarded-Proto"] = client_scheme(environ)
    headers["X-Forwarded-Host"] = client_host(environ)
    headers["X-Request-ID"] = request_id
    return headers


def _connection_named(value: str, *, env_keys: bool) -> frozenset[str]:
    tokens = (token.strip() for token in value.split(","))
    if env_keys:
        return frozenset(f"HTTP_{token.upper().replace('-', '_')}" for token in tokens if token)
    return frozenset(token.lower() for token in tokens if token)


def response_headers(response: Response, upstream: str, request_id: str, *, backend: UpstreamAddress | None = None,
                     client_base: str = "") -> list[tuple[str, str]]:
    """Return the backend's end-to-end headers in order, repeated ones kept, plus ``X-Upstream``.

    With ``backend`` and ``client_base``, a ``Location`` or ``Content-Location`` naming the
    backend's own address is rewritten to ``client_base``.
    """
    headers = response.headers
    named: frozenset[str] = frozenset()
    has_request_id = encoded = False
    for name, value in headers:
        lname = name.lower()
        if lname == "connection":
            named |= _connection_named(value, env_keys=False)
        elif lname == "x-request-id":
            has_request_id = True
        elif lname == "transfer-encoding":
            encoded = True
    kept = []
    for name, value in headers:
        lname = name.lower()
        if lname in HOP_BY_HOP or lname in named or (encoded and lname == "content-length"):
            # Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3), which must not be passed on.
            continue
        if backend is not None and lname in REWRITTEN:
            kept.append((name, rewrite_location(value, backend, client_base)))
        else:
            kept.append((name, value))
    kept.append(("X-Upstream", upstream))
    if not has_request_id:
        kept.append(("X-Request-ID", request_id))
    return kept


def status_line(response: Response) -> str:
    """Return the WSGI status: the backend's code and reason phrase (a standard one when it sent none)."""
    reason = response.reason
    if not reason:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
    return f"{response.status} {reason}"


class StreamedBody:
    """A WSGI body that streams a long response and reports when the server is done with it."""

    def __init__(self, response: Response, on_close: Callable[[], None]) -> None:
        self._response = response
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return self._response.chunks()

    def close(self) -> None:
        """Called by the WSGI server after the last chunk, or when the client went away."""
        self._response.close()
        self._on_close()
