"""Comparing two backends' answers to the same request: status, and the JSON body in a canonical form.

Field names listed in ``ignore`` are left out wherever they appear. Object keys are compared
whatever their order, arrays element by element, numbers by value (``1`` equals ``1.0``, but
``true`` is not ``1``). A body that is not JSON is compared byte for byte. The differences
come back as JSON paths (``$[0].title``) with both backends' values.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any

MAX_DIFFERENCES = 20
MAX_VALUE_CHARS = 200
_NOT_JSON = object()


class Undecodable(ValueError):
    """A body in a ``Content-Encoding`` the comparison cannot undo."""


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    """Undo ``gzip`` or ``deflate`` so two bodies compare by content.

    :raises Undecodable: for another encoding or a corrupt body.
    """
    encoding = (content_encoding or "identity").strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error) as error:
        raise Undecodable(f"corrupt {encoding} body: {error}") from None
    raise Undecodable(f"cannot compare a body in Content-Encoding {encoding!r}")


def compare_answers(names: tuple[str, str], statuses: tuple[int, int], bodies: tuple[bytes, bytes],
                    ignore: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Return the differences between two answers (none when they match), each naming its path and both values."""
    first, second = names
    differences: list[dict[str, Any]] = []
    if statuses[0] != statuses[1]:
        differences.append({"path": "status", first: statuses[0], second: statuses[1]})
    left, right = _parse(bodies[0]), _parse(bodies[1])
    if left is _NOT_JSON or right is _NOT_JSON:
        if bodies[0] != bodies[1]:
            differences.append({"path": "$ (body, not JSON)", first: _text(bodies[0]), second: _text(bodies[1])})
        return differences
    for path, value_left, value_right in _walk("$", left, right, ignore):
        if len(differences) >= MAX_DIFFERENCES:
            differences.append({"path": "...", "more": "further differences left out"})
            break
        entry: dict[str, Any] = {"path": path}
        for name, value in ((first, value_left), (second, value_right)):
            if value is _ABSENT:
                entry["absent_in"] = name
            else:
                entry[name] = _shown(value)
        differences.append(entry)
    return differences


_ABSENT = object()


def _walk(path: str, left: Any, right: Any, ignore: frozenset[str]) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            if key in ignore:
                continue
            yield from _walk(f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]",
                             left.get(key, _ABSENT), right.get(key, _ABSENT), ignore)
        return
    if isinstance(left, list) and isinstance(right, list):
        for index in range(max(len(left), len(right))):
            yield from _walk(f"{path}[{index}]", left[index] if index < len(left) else _ABSENT,
                             right[index] if index < len(right) else _ABSENT, ignore)
        return
    if not _same(left, right):
        yield path, left, right


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return left == right


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _shown(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= MAX_VALUE_CHARS:
        return value
    return text[:MAX_VALUE_CHARS] + "…"


def _text(body: bytes) -> str:
    text = body[:MAX_VALUE_CHARS].decode("utf-8", "replace")
    return text + "…" if len(body) > MAX_VALUE_CHARS else text
