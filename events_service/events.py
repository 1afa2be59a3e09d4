"""The three kinds of event: their topics, keys, validation, ids and the envelope that goes to Kafka."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from cinema_common.errors import ApiError
from cinema_common.jsonbody import integer, number, text, text_list, timestamp

_SUMMARY_LENGTH = 120
IDEMPOTENCY_KEY_LENGTH = 255
# Printable ASCII, the space included (the IETF httpapi draft's sf-string range); HTTP itself trims
# white space around a header value, so a key never starts or ends with one.
_IDEMPOTENCY_KEY = re.compile(f"[\\x20-\\x7e]{{1,{IDEMPOTENCY_KEY_LENGTH}}}")
# Fixed for good: changing it would give every retried key a new event id.
EVENT_ID_NAMESPACE = uuid.UUID("8f0b3c52-5f0e-5b6a-9a55-2d3c3c1e7a01")


@dataclass(frozen=True)
class EventType:
    """One kind of event: where it goes, which field keys it, and how its body is checked."""

    name: str
    topic: str
    key_field: str
    fields: tuple[str, ...]
    check: Callable[[dict[str, Any]], dict[str, int | None]]

    def validate(self, body: dict[str, Any]) -> dict[str, Any]:
        """Return the accepted payload: the known fields of ``body``, integers as ``int`` (7.0 is 7), others as sent.

        :raises ApiError: 400 naming the first field that is missing or wrong.
        """
        integers = self.check(body)
        return {field: integers.get(field, body[field]) for field in self.fields if body.get(field) is not None}


def _check_movie(body: dict[str, Any]) -> dict[str, int | None]:
    ids = {"movie_id": integer(body, "movie_id")}
    text(body, "title", max_length=500)
    text(body, "action", max_length=100)
    ids["user_id"] = integer(body, "user_id", required=False)
    number(body, "rating", required=False, minimum=0, maximum=10)
    text_list(body, "genres")
    text(body, "description", required=False, allow_empty=True, max_length=5000)
    return ids


def _check_user(body: dict[str, Any]) -> dict[str, int | None]:
    ids = {"user_id": integer(body, "user_id")}
    text(body, "action", max_length=100)
    timestamp(body, "timestamp")
    text(body, "username", required=False, max_length=100)
    text(body, "email", required=False, max_length=254)
    return ids


def _check_payment(body: dict[str, Any]) -> dict[str, int | None]:
    ids = {"payment_id": integer(body, "payment_id"), "user_id": integer(body, "user_id")}
    number(body, "amount", minimum=0, exclusive_minimum=True)
    text(body, "status", max_length=100)
    timestamp(body, "timestamp")
    text(body, "method_type", required=False, max_length=100)
    return ids


EVENT_TYPES: dict[str, EventType] = {
    kind.name: kind
    for kind in (
        EventType("movie", "movie-events", "movie_id",
                  ("movie_id", "title", "action", "user_id", "rating", "genres", "description"), _check_movie),
        EventType("user", "user-events", "user_id",
                  ("user_id", "action", "timestamp", "username", "email"), _check_user),
        EventType("payment", "payment-events", "payment_id",
                  ("payment_id", "user_id", "amount", "status", "timestamp", "method_type"), _check_payment),
    )
}
TOPICS: tuple[str, ...] = tuple(kind.topic for kind in EVENT_TYPES.values())


def idempotency_key(value: str | None) -> str | None:
    """Return the ``Idempotency-Key`` header's value, or None when the request has none.

    :raises ApiError: 400 unless it is 1 to 255 printable ASCII characters (0x20 to 0x7E).
    """
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise ApiError(400, f"header 'Idempotency-Key' must be 1 to {IDEMPOTENCY_KEY_LENGTH} printable ASCII "
                            "characters (0x20 to 0x7E)")
    return value


def event_id(kind: EventType, key: str | None) -> str:
    """Return the id of a new event: derived from the idempotency key and the type (UUIDv5), else random (UUIDv4)."""
    if key is None:
        return str(uuid.uuid4())
    # A key is printable ASCII, so no key holds the newline that separates the two parts.
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{kind.name}\n{key}"))


def new_event(kind: EventType, payload: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """Wrap an accepted payload in the event envelope: its id (``event_id``), the type and the time it was accepted."""
    return {
        "id": event_id(kind, key),
        "type": kind.name,
        "timestamp": datetime.now(UTC).isoformat(),
        "payload": payload,
    }


def message_key(kind: EventType, payload: dict[str, Any]) -> bytes:
    """Return the Kafka key: the entity id, so every event of one entity lands in one partition, in order."""
    return str(payload[kind.key_field]).encode()


def encode(event: dict[str, Any]) -> bytes:
    """Return the Kafka value: the event as compact UTF-8 JSON."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def summarize(payload: Any) -> str:
    """Return a short ``field=value`` summary of a payload for a log line (strings JSON-quoted)."""
    if not isinstance(payload, dict):
        return repr(payload)[:_SUMMARY_LENGTH]
    summary = " ".join(f"{field}={_summary_value(value)}" for field, value in payload.items())
    return summary if len(summary) <= _SUMMARY_LENGTH else summary[: _SUMMARY_LENGTH - 3] + "..."


def _summary_value(value: Any) -> str:
    # Called for every consumed event: plain str() and the C string quoter are far cheaper than json.dumps.
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
