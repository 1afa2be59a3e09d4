"""Validation of JSON request bodies: each failure is a 400 naming the field."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from cinema_common.errors import ApiError

# Re-exported: services import the body and query readers from here, as they always did.
from cinema_common.queryparams import MAX_ID, MIN_QUERY_ID, is_storable_id, query_id, query_integer
from cinema_common.requestbody import json_object

__all__ = ["MAX_ID", "MIN_QUERY_ID", "is_storable_id", "json_object", "query_id", "query_integer"]

# White space spelled out: Python's \s, ECMA-262's and Rust's (schemathesis validates with Rust) all differ,
# and the OpenAPI spec spells the same class, so the spec and the server agree on every character.
_BLANK = " \t\n\r\f\v"
_NON_BLANK = re.compile(f"[^{_BLANK}]")
# Fullwidth and small commercial ats count as @: NFKC turns them into one.
_AT = "@\uff20\ufe6b"
_EMAIL = re.compile(f"[^{_AT}{_BLANK}]+@[^{_AT}{_BLANK}]+\\.[^{_AT}{_BLANK}]+")
# Python's datetime ends at years 1 and 9999: one more day either side, as an instant in UTC,
# could be stored by PostgreSQL but not read back, so those two years are refused at the door.
MIN_YEAR, MAX_YEAR = 2, 9998


def invalid(field: str, expected: str) -> ApiError:
    """Return the 400 error for one field."""
    return ApiError(400, f"field '{field}' must be {expected}")


def storable(value: str) -> bool:
    """Tell whether PostgreSQL can store ``value`` as text: no NUL and no lone surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_blank(value: str) -> bool:
    """Tell whether ``value`` has nothing but ASCII white space (the class the OpenAPI spec spells)."""
    return _NON_BLANK.search(value) is None


def _present(body: dict[str, Any], field: str, required: bool) -> bool:
    if body.get(field) is None:
        if required:
            raise ApiError(400, f"field '{field}' is required")
        return False
    return True


def text(body: dict[str, Any], field: str, *, required: bool = True, max_length: int = 1000,
         allow_empty: bool = False, default: str | None = None) -> str | None:
    """Return a string field; PostgreSQL cannot store NUL, so that is refused too."""
    if not _present(body, field, required):
        return default
    value = body[field]
    if not isinstance(value, str) or not storable(value):
        raise invalid(field, "a string")
    if not allow_empty and not _NON_BLANK.search(value):
        raise invalid(field, "a non-empty string")
    if len(value) > max_length:
        raise invalid(field, f"at most {max_length} characters")
    return value


def email(body: dict[str, Any], field: str) -> str:
    """Return a required e-mail address field."""
    value = text(body, field, max_length=254)
    if not _EMAIL.fullmatch(value):
        raise invalid(field, "an e-mail address")
    return value


def integer(body: dict[str, Any], field: str, *, required: bool = True, minimum: int = 1) -> int | None:
    """Return an integer field; booleans are not integers, ``9.0`` is one (as in JSON Schema)."""
    if not _present(body, field, required):
        return None
    value = body[field]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_ID:
        raise invalid(field, f"an integer from {minimum} to {MAX_ID}")
    return value


def number(body: dict[str, Any], field: str, *, required: bool = True, minimum: float | None = None,
           maximum: float | None = None, exclusive_minimum: bool = False) -> float | None:
    """Return a finite JSON number within optional bounds; booleans are not numbers."""
    if not _present(body, field, required):
        return None
    value = body[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(field, "a number")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise invalid(field, f"a number {'above' if exclusive_minimum else 'of at least'} {minimum:g}")
    if maximum is not None and value > maximum:
        raise invalid(field, f"a number of at most {maximum:g}")
    return float(value)


def text_list(body: dict[str, Any], field: str, *, required: bool = False, max_items: int = 50,
              max_length: int = 100) -> list[str] | None:
    """Return a list of non-empty strings."""
    if not _present(body, field, required):
        return None
    value = body[field]
    if not isinstance(value, list) or len(value) > max_items or not all(
        isinstance(item, str) and _NON_BLANK.search(item) and storable(item) and len(item) <= max_length
        for item in value
    ):
        raise invalid(field, f"an array of at most {max_items} non-empty strings")
    return value


def timestamp(body: dict[str, Any], field: str, *, required: bool = True) -> datetime | None:
    """Return an ISO-8601 date-time field as an aware datetime (UTC when no offset is given)."""
    if not _present(body, field, required):
        return None
    value = body[field]
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        raise invalid(field, f"an ISO-8601 date-time with a year from {MIN_YEAR} to {MAX_YEAR}")
    return parsed


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO-8601 date or date-time; None when it does not parse or its year in UTC is out of range."""
    candidate = value.strip()
    if not candidate or "\x00" in candidate:
        return None
    try:
        parsed = datetime.fromisoformat(candidate.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        return None
    # The limits hold for the instant PostgreSQL stores: 0002-01-01T00:00:00+23:59 is year 1 in UTC.
    if not MIN_YEAR <= instant.year <= MAX_YEAR:
        return None
    return parsed
