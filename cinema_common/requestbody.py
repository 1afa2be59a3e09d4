"""Reading a request body: JSON only when the request says so, and only when it arrived whole.

Every endpoint that takes a body reads it through :func:`json_object`, so every
service refuses the same things the same way: another content type (415), a body cut
short of its ``Content-Length`` or with broken chunked framing (400), and a body over
``MAX_CONTENT_LENGTH`` (413, raised by Werkzeug while it reads).
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import ClientDisconnected

from cinema_common.errors import ApiError

JSON_TYPE = "application/json"
# gunicorn raises its ParseException subclasses for bad chunk sizes, missing CRLFs and bad
# trailers, and NoMoreData (an OSError) when the client stops mid-chunk; a reset is an OSError too.
# Werkzeug's stream says ClientDisconnected when the body ends before it should.
_FRAMING_ERRORS = (ParseException, OSError, ClientDisconnected)


def require_json_content_type() -> None:
    """Refuse a body that does not say it is JSON.

    ``application/json`` with any parameters (``charset=utf-8``) passes; anything else,
    or no ``Content-Type`` at all, is a 415. A browser sends ``text/plain`` across
    origins without a preflight, so accepting it would let any page post here.

    :raises ApiError: 415 naming the expected type.
    """
    if request.mimetype != JSON_TYPE:
        raise ApiError(415, f"Content-Type must be {JSON_TYPE}")


def only_chunked(transfer_encoding: str) -> bool:
    """Tell whether a ``Transfer-Encoding`` (possibly empty) names no coding but ``chunked``.

    gunicorn takes ``gzip, chunked`` and hands on the body still compressed; nothing here
    decodes it, so such a body cannot be read as what it claims to be.
    """
    codings = [coding.strip().lower() for coding in transfer_encoding.split(",") if coding.strip()]
    return all(coding == "chunked" for coding in codings)


def complete_body() -> bytes:
    """Return the request body, read to its end.

    :raises ApiError: 400 when the chunked framing is broken, when a transfer coding other
        than chunked is applied, or when the body is shorter than its ``Content-Length`` (the
        client went away); nothing may be done with such a body. 413 when a chunked body
        goes past the limit (Werkzeug raises it for a ``Content-Length``).
    """
    if not only_chunked(request.headers.get("Transfer-Encoding", "")):
        raise ApiError(400, "Transfer-Encoding other than chunked is not supported")
    try:
        data = request.get_data(cache=True)
        # Werkzeug stops a chunked body at the limit without a word (LimitedStream.readall): one
        # more byte from the server's own stream tells a body at the limit from one over it.
        limit = request.max_content_length
        if request.content_length is None and limit is not None and len(data) >= limit \
                and request.environ["wsgi.input"].read(1):
            raise ApiError(413, "request body too large")
    except _FRAMING_ERRORS:
        raise ApiError(400, "request body is incomplete: bad chunked framing or a closed connection") from None
    expected = request.content_length
    if expected is not None and len(data) < expected:
        raise ApiError(400, f"request body is incomplete: {len(data)} of {expected} bytes arrived")
    return data


def json_object() -> dict[str, Any]:
    """Return the request body as a JSON object.

    :raises ApiError: 415 for another content type; 400 when the body is incomplete,
        not JSON, or not an object; Werkzeug's 413 when it is over the limit.
    """
    require_json_content_type()
    data = complete_body()
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        # Nesting deeper than the parser's stack (``[[[[...``) is not a usable body either.
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body
