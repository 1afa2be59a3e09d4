"""Sending the request target exactly as the client sent it, which urllib3 2 does not do by itself.

``HTTPConnectionPool.urlopen`` normalizes every target it is given (RFC 3986 section
6.2.2): hex digits of percent-escapes are upper-cased and characters outside its allowed
set are escaped, and it has no option to stop that (urllib3 issues 1677 and 3081). A
gateway must hand the backend the target it received, byte for byte, so the raw target
rides to the connection in a header of its own, and the connection puts it on the request
line in place of the normalized one and never sends that header. The pool class is
chosen through ``PoolManager.pool_classes_by_scheme`` from ``HTTPAdapter.init_poolmanager``,
the adapter's documented hook for subclasses. The workaround lives only here, is checked
against urllib3's major version at import, and is recorded in
docs/decisions/0011-raw-request-targets.md.
"""

from __future__ import annotations

from typing import Any

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

if urllib3.__version__.split(".")[0] != "2":
    raise ImportError(f"proxy_service.raw_target is written for urllib3 2, not {urllib3.__version__}")

TARGET_HEADER = "X-Gateway-Raw-Target"


class RawTargetConnection(HTTPConnection):
    """urllib3's connection, putting the raw target from ``TARGET_HEADER`` on the request line."""

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        """Send the request line, headers and body; the raw target replaces ``url`` when one is given."""
        raw = headers.pop(TARGET_HEADER, None) if headers is not None else None
        try:
            super().request(method, raw or url, body=body, headers=headers, **kwargs)
        finally:
            if raw is not None:
                # A retried request (a stale keep-alive connection) needs it again.
                headers[TARGET_HEADER] = raw


class RawTargetPool(HTTPConnectionPool):
    """urllib3's plain-HTTP pool, with :class:`RawTargetConnection` connections."""

    ConnectionCls = RawTargetConnection


class RawTargetAdapter(HTTPAdapter):
    """requests' ``HTTPAdapter`` whose plain-HTTP pools send the raw target."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        """Make the pool manager as ``HTTPAdapter`` does, then give it :class:`RawTargetPool` for ``http``."""
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {**self.poolmanager.pool_classes_by_scheme, "http": RawTargetPool}
