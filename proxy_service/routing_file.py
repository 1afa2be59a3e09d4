"""Routing settings that follow a file of ``KEY=VALUE`` lines, such as a mounted ConfigMap.

The file is re-read by path every ``check_seconds`` (lazily, by the request that finds the
last check too old), so a kubelet swapping the ConfigMap's symlink is noticed. Keys the
file leaves out keep their environment values. A file that cannot be read or parsed is
logged once and ignored: the last good settings stay in force.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cinema_common.env import ConfigError
from proxy_service.config import ROUTING_KEYS, RoutingSettings

log = logging.getLogger(__name__)
MAX_FILE_BYTES = 64 * 1024


class BadRoutingFile(ValueError):
    """A routing file that cannot be used; the message says where and why."""


def parse_routing_file(text: str, defaults: RoutingSettings) -> RoutingSettings:
    """Return the settings a file's text gives, on top of ``defaults``.

    :raises BadRoutingFile: for a malformed line, an unknown or repeated key, or a bad value.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), _unquote(value.strip())
        if not sep or not key:
            raise BadRoutingFile(f"line {number}: expected KEY=VALUE, got {raw!r}")
        if key not in ROUTING_KEYS:
            raise BadRoutingFile(f"line {number}: unknown key {key!r}; expected one of {', '.join(ROUTING_KEYS)}")
        if key in values:
            raise BadRoutingFile(f"line {number}: {key} is set twice")
        if not value:
            raise BadRoutingFile(f"line {number}: {key} has no value")
        values[key] = value
    try:
        return RoutingSettings.read(values, defaults)
    except ConfigError as error:
        raise BadRoutingFile(str(error)) from None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].strip()
    return value


@dataclass(frozen=True)
class RoutingState:
    """The settings in force and where they came from (``environment`` or the file's path)."""

    settings: RoutingSettings
    source: str
    error: str | None = None


class RoutingSource:
    """Hands out the routing settings in force, re-reading the file when the last check is old enough."""

    def __init__(self, defaults: RoutingSettings, path: str | None, *, check_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[RoutingSettings], None] = lambda settings: None) -> None:
        self._defaults = defaults
        self._path = path
        self._check_seconds = check_seconds
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._text: str | None = None
        self._state = RoutingState(defaults, "environment")
        self._next_check = float("-inf") if path else float("inf")
        self.refresh()

    @property
    def state(self) -> RoutingState:
        """Return the settings in force, their source and the file's last error, if any."""
        self.current()
        return self._state

    def current(self) -> RoutingSettings:
        """Return the settings in force; called once per request, so the common path is one comparison."""
        if self._clock() >= self._next_check:
            self.refresh()
        return self._state.settings

    def refresh(self) -> None:
        """Re-read the file now if another thread is not already doing it."""
        if self._path is None or not self._lock.acquire(blocking=False):
            return
        try:
            self._next_check = self._clock() + self._check_seconds
            self._reload(self._path)
        finally:
            self._lock.release()

    def _reload(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read(MAX_FILE_BYTES + 1)
            if len(text) > MAX_FILE_BYTES:
                raise BadRoutingFile(f"larger than {MAX_FILE_BYTES} bytes")
            if text == self._text:
                return
            self._text = text
            settings = parse_routing_file(text, self._defaults)
        except (OSError, UnicodeDecodeError, BadRoutingFile) as error:
            message = f"{type(error).__name__}: {error}" if isinstance(error, OSError) else str(error)
            if message != self._state.error:
                log.warning("routing config file ignored, keeping the last good settings",
                            extra={"path": path, "reason": message,
                                   "settings": vars(self._state.settings)})
            if isinstance(error, OSError):
                # A file that comes back with the same text must be applied again.
                self._text = None
            self._state = RoutingState(self._state.settings, self._state.source, message)
            return
        changed = settings != self._state.settings
        self._state = RoutingState(settings, path)
        if changed:
            log.info("routing settings changed", extra={"path": path, "settings": vars(settings)})
            self._on_change(settings)
