"""Reading an HTTP/1.1 response off the wire: status line, header fields and body framing (RFC 9112).

Strict where a proxy must be (bad framing is an error, never a guess) and lean, since
it runs for every proxied request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 64 * 1024
MAX_LINE = 64 * 1024
MAX_HEADERS = 200
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-5][0-9][0-9])(?: ([^\r\n]*))?\r?\n")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
# A header section of well-formed lines: token, colon, a value without control characters, CRLF.
_FIELDS = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[ \t\x21-\x7e\x80-\xff]*\r\n)+")


class FramingError(ValueError):
    """A response that does not follow HTTP/1.1's syntax or framing."""


@dataclass(slots=True)
class Head:
    """A response's status, reason, header fields in order, and how its body is framed.

    ``mode`` is ``none`` (no body), ``length`` (``length`` bytes), ``chunked`` or ``close``
    (until the connection closes); ``keep_alive`` tells whether the connection may be reused.
    """

    status: int
    reason: str
    headers: list[tuple[str, str]]
    mode: str
    length: int
    keep_alive: bool


def read_head(rfile: BinaryIO, method: str, line: bytes) -> Head:
    """Parse a response head whose status ``line`` was already read; interim 1xx responses are skipped.

    :raises FramingError: for anything malformed, or a protocol upgrade.
    """
    while True:
        match = _STATUS.fullmatch(line)
        if match is None:
            raise FramingError(f"bad status line {line[:100]!r}")
        headers, (length, chunked, close) = read_fields(rfile)
        status = int(match[2])
        if status >= 200:
            break
        if status == 101:
            raise FramingError("protocol upgrades are not supported")
        line = rfile.readline(MAX_LINE)
    keep_alive = match[1] == b"1" and not close
    if method == "HEAD" or status in (204, 304):
        mode, length = "none", 0
    elif chunked:
        mode = "chunked"
    elif length >= 0:
        mode = "length"
    else:
        mode, keep_alive = "close", False
    return Head(status, (match[3] or b"").decode("latin-1"), headers, mode, length, keep_alive)


def read_fields(rfile: BinaryIO) -> tuple[list[tuple[str, str]], tuple[int, bool, bool]]:
    """Read header lines up to the blank line; return them and (content length or -1, chunked, close).

    :raises FramingError: for a malformed line, a bad Content-Length or too many lines.
    """
    buffered = rfile.peek(1)
    if buffered[:2] == b"\r\n":
        rfile.read(2)
        return [], (-1, False, False)
    end = buffered.find(b"\r\n\r\n")
    if end >= 0 and _FIELDS.fullmatch(buffered, 0, end + 2):
        # The usual case: the whole, well-formed header section is already buffered; split it at C speed.
        block = rfile.read(end + 4)[:end].decode("latin-1")
        headers = []
        for line in block.split("\r\n"):
            name, _, value = line.partition(":")
            headers.append((name, value.strip(" \t")))
    else:
        headers = _read_lines(rfile)
    if len(headers) > MAX_HEADERS:
        raise FramingError("too many header lines")
    return _framing(headers)


def _read_lines(rfile: BinaryIO) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for _ in range(MAX_HEADERS + 1):
        raw = rfile.readline(MAX_LINE)
        if raw in (b"\r\n", b"\n"):
            return headers
        if not raw.endswith(b"\n"):
            raise FramingError("the header section ended early or has a line too long")
        text = raw.decode("latin-1").rstrip("\r\n")
        if text[0] in " \t" and headers:
            # Obsolete line folding: RFC 9112 lets a proxy replace it with a space.
            name, value = headers.pop()
            headers.append((name, value + " " + text.strip(" \t")))
            continue
        name, sep, value = text.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise FramingError(f"bad header line {text[:100]!r}")
        value = value.strip(" \t")
        if _BAD_VALUE.search(value):
            raise FramingError(f"control character in header {name}")
        headers.append((name, value))
    raise FramingError("too many header lines")


def _framing(headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], tuple[int, bool, bool]]:
    length, chunked, close, encoded = -1, False, False, False
    for name, value in headers:
        lname = name.lower()
        if lname == "content-length":
            if not value.isdigit() or (length >= 0 and int(value) != length):
                raise FramingError(f"bad Content-Length {value!r}")
            length = int(value)
        elif lname == "transfer-encoding":
            encoded = True
            chunked = value.rsplit(",", 1)[-1].strip().lower() == "chunked"
            close = close or not chunked
        elif lname == "connection":
            close = close or "close" in (token.strip().lower() for token in value.split(","))
    if encoded:
        # Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3), which must not be passed on.
        length = -1
        headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    return headers, (length, chunked, close)


def exactly(rfile: BinaryIO, length: int) -> Iterator[bytes]:
    """Yield ``length`` bytes as they arrive.

    :raises FramingError: when the stream ends first.
    """
    while length > 0:
        data = rfile.read1(min(CHUNK, length))
        if not data:
            raise FramingError("the response ended before its announced length")
        length -= len(data)
        yield data


def dechunk(rfile: BinaryIO) -> Iterator[bytes]:
    """Yield the data of a chunked body, reading and dropping its trailer section.

    :raises FramingError: for a malformed chunk or a stream that ends early.
    """
    while True:
        line = rfile.readline(MAX_LINE)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
            raise FramingError("bad chunk size line")
        size = int(size_text, 16)
        if size == 0:
            break
        yield from exactly(rfile, size)
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise FramingError("chunk not followed by CRLF")
    for _ in range(MAX_HEADERS):
        line = rfile.readline(MAX_LINE)
        if line in (b"\r\n", b"\n"):
            return
        if not line.endswith(b"\n"):
            raise FramingError("bad trailer section")
    raise FramingError("too many trailer lines")
