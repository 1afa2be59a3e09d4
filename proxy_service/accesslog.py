"""One JSON access-log line per request, in the same shape as ``cinema_common.jsonlog``'s lines.

It writes each line with a single ``os.write`` to stderr instead of going through the
``logging`` machinery: on the proxy's hot path that is a third of the cost (about 10
microseconds instead of 30), and one write per line keeps lines whole across workers.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

LOGGER = "proxy_service.access"


class AccessLog:
    """Writes access lines to a file descriptor, stderr unless told otherwise."""

    def __init__(self, fd: int | None = None) -> None:
        self._fd = fd
        self._second: tuple[int, str] = (0, "")

    def write(self, **fields: Any) -> None:
        """Write one line with the time, level, logger and message, then ``fields``."""
        now = time.time()
        second, prefix = self._second
        if int(now) != second:
            second = int(now)
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, prefix)
        entry = {"time": f"{prefix}.{int((now - second) * 1000):03d}+00:00", "level": "info", "logger": LOGGER,
                 "message": "request", **fields}
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8", "replace")
        fd = self._fd if self._fd is not None else sys.stderr.fileno()
        while line:
            line = line[os.write(fd, line):]
