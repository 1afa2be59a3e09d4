"""Redirect targets that name a backend's own address are rewritten to the address the client used.

This is what nginx's ``proxy_redirect default`` does: a backend builds absolute URLs from
the ``Host`` the gateway sent it (its own, internal address), so a ``Location`` or
``Content-Location`` such as ``http://127.0.0.1:8080/api/users`` would tell every client
where the backend lives. Such a value keeps its path, query and fragment and gets the
scheme and host the client addressed; any other value passes unchanged.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from proxy_service.config import UpstreamAddress

REWRITTEN = frozenset({"location", "content-location"})


def rewrite_location(value: str, backend: UpstreamAddress, client_base: str) -> str:
    """Return ``value`` with the backend's own scheme and address replaced by ``client_base`` (``scheme://host``)."""
    if not value[:5].lower().startswith("http"):
        return value
    try:
        parts = urlsplit(value)
        port = parts.port or (80 if parts.scheme.lower() == "http" else 443)
    except ValueError:
        return value
    if parts.scheme.lower() != "http" or (parts.hostname or "").lower() != backend.host.lower() \
            or port != backend.port or parts.username is not None:
        return value
    rest = value[len(parts.scheme) + 3 + len(parts.netloc):]
    return client_base + (rest if rest.startswith("/") else "/" + rest)
