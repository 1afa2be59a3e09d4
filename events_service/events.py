"""The three kinds of event: their topics, keys, validation and the envelope that goes to Kafka."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from cinema_common.jsonbody import integer, number, text, text_list, timestamp

_SUMMARY_LENGTH = 120


@dataclass(frozen=True)
class EventType:
    """One kind of event: where it goes, which field keys it, and how its body is checked."""

    name: str
    topic: str
    key_field: str
    fields: tuple[str, ...]
    check: Callable[[dict[str, Any]], None]

    def validate(self, body: dict[str, Any]) -> dict[str, Any]:
        """Return the accepted payload: the known fields of ``body``, as sent.

        :raises ApiError: 400 naming the first field that is missing or wrong.
        """
        self.check(body)
        return {field: body[field] for field in self.fields if body.get(field) is not None}


def _check_movie(body: dict[str, Any]) -> None:
    integer(body, "movie_id")
    text(body, "title", max_length=500)
    text(body, "action", max_length=100)
    integer(body, "user_id", required=False)
    number(body, "rating", required=False, minimum=0, maximum=10)
    text_list(body, "genres")
    text(body, "description", required=False, allow_empty=True, max_length=5000)


def _check_user(body: dict[str, Any]) -> None:
    integer(body, "user_id")
    text(body, "action", max_length=100)
    timestamp(body, "timestamp")
    text(body, "username", required=False, max_length=100)
    text(body, "email", required=False, max_length=254)


def _check_payment(body: dict[str, Any]) -> None:
    integer(body, "payment_id")
    integer(body, "user_id")
    number(body, "amount", minimum=0, exclusive_minimum=True)
    text(body, "status", max_length=100)
    timestamp(body, "timestamp")
    text(body, "method_type", required=False, max_length=100)


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


def new_event(kind: EventType, payload: dict[str, Any]) -> dict[str, Any]:
    """Wrap an accepted payload in the event envelope: a fresh id, the type and the time it was accepted."""
    return {
        "id": str(uuid.uuid4()),
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
