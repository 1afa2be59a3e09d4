"""Typed reading of environment variables; a bad value is a ConfigError, never a guess."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable and the value."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(f"invalid {name}={value!r}: expected {expected}")
        self.name = name


class EnvReader:
    """Reads typed settings from a mapping such as ``os.environ``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str, default: str) -> str:
        """Return the variable stripped of surrounding blanks, or ``default`` when unset or empty."""
        value = self._environ.get(name, "").strip()
        return value or default

    def string(self, name: str, default: str) -> str:
        """Return a string setting."""
        return self.raw(name, default)

    def boolean(self, name: str, default: bool) -> bool:
        """Return a boolean written as true/false/1/0/yes/no in any case.

        :raises ConfigError: for any other spelling.
        """
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        return parse_bool(name, value)

    def integer(self, name: str, default: int, *, minimum: int | None = None,
                maximum: int | None = None) -> int:
        """Return an integer within the given bounds.

        :raises ConfigError: when the value is not an integer or is out of bounds.
        """
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        return parse_int(name, value, minimum=minimum, maximum=maximum)

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        """Return a finite float not below ``minimum`` (used for timeouts in seconds).

        :raises ConfigError: when the value is not such a number.
        """
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not number >= minimum or number == float("inf"):
            raise ConfigError(name, value, f"a number of at least {minimum:g}")
        return number

    def url(self, name: str, default: str) -> str:
        """Return an http(s) URL without a trailing slash.

        :raises ConfigError: when the value is not an http or https URL with a host.
        """
        value = self.raw(name, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(name, value, "an http:// or https:// URL")
        return value.rstrip("/")


def parse_bool(name: str, value: str) -> bool:
    """Parse true/false/1/0/yes/no in any case.

    :raises ConfigError: for any other spelling.
    """
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(name, value, "one of true/false/1/0/yes/no")


def parse_int(name: str, value: str, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Parse a decimal integer within optional bounds.

    :raises ConfigError: when the value is not an integer or is out of bounds.
    """
    bounds = _describe_bounds(minimum, maximum)
    try:
        number = int(value.strip(), 10)
    except ValueError:
        raise ConfigError(name, value, f"an integer{bounds}") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ConfigError(name, value, f"an integer{bounds}")
    return number


def _describe_bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" of at least {minimum}"
    if maximum is not None:
        return f" of at most {maximum}"
    return ""
