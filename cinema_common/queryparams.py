"""Query parameters: one integer parser for every service, and bounded list pages.

``id``, ``user_id``, ``limit`` and ``offset`` (and the events service's ``limit``) are
all read by :func:`query_integer`, so they accept and refuse exactly the same spellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from flask import Response, jsonify, request

from cinema_common.errors import ApiError

# PostgreSQL bigint: larger integers are refused rather than overflowing in the database.
MAX_ID = 2**63 - 1
MIN_QUERY_ID = -(2**63)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# ASCII digits only: int() would also read " 7", "+7", "7_0" and Arabic-Indic or fullwidth digits,
# which no spec calls an integer. A fraction of zeros is allowed: JSON Schema counts 7.0 as the
# integer 7, so OpenAPI clients may send it.
_INTEGER = re.compile(r"(-?[0-9]{1,30})(?:\.0{1,30})?")


def query_integer(name: str, *, default: int | None = None, minimum: int = MIN_QUERY_ID,
                  maximum: int = MAX_ID, expected: str | None = None) -> int | None:
    """Return the integer query parameter ``name``, or ``default`` when it is absent.

    :raises ApiError: 400 when it is present but not ASCII decimal digits (an optional
        ``-``, an optional fraction of zeros) within ``minimum`` and ``maximum``; the message
        says ``expected``, by default "an integer from <minimum> to <maximum>".
    """
    raw = request.args.get(name)
    if raw is None:
        return default
    match = _INTEGER.fullmatch(raw)
    if match is None or not minimum <= int(match[1]) <= maximum:
        raise ApiError(400, f"query parameter '{name}' must be {expected or f'an integer from {minimum} to {maximum}'}")
    return int(match[1])


def query_id(name: str) -> int | None:
    """Return the 64-bit integer query parameter ``name`` (``id``, ``user_id``), or None when absent.

    :raises ApiError: 400 when it is present but not a 64-bit integer.
    """
    return query_integer(name, expected="a 64-bit integer")


def is_storable_id(value: int) -> bool:
    """Tell whether ``value`` can be the id of a row (a positive bigint)."""
    return 1 <= value <= MAX_ID


@dataclass(frozen=True)
class Page:
    """One page of a list: ``limit`` rows after skipping ``offset``."""

    limit: int
    offset: int

    @classmethod
    def from_request(cls) -> Page:
        """Read ``?limit=`` (default 100, 1 to 1000) and ``?offset=`` (default 0).

        :raises ApiError: 400 for any other value; nothing is silently clamped.
        """
        limit = query_integer("limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
        offset = query_integer("offset", default=0, minimum=0, maximum=MAX_ID)
        return cls(limit, offset)

    @property
    def fetch(self) -> int:
        """Rows to ask the database for: one more than the page, to tell whether another follows."""
        return self.limit + 1

    def respond(self, rows: list) -> Response:
        """Answer with at most ``limit`` of ``rows`` and, when more follow, a relative ``Link: rel="next"``."""
        response = jsonify(rows[:self.limit])
        if len(rows) > self.limit:
            args = [(key, value) for key, value in request.args.items(multi=True)
                    if key not in ("limit", "offset")]
            args += [("limit", str(self.limit)), ("offset", str(self.offset + self.limit))]
            # Relative to the request's own path, so it stays right behind the gateway.
            response.headers["Link"] = f'<{quote(request.path)}?{urlencode(args)}>; rel="next"'
        return response
