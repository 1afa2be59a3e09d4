"""The gateway as WSGI middleware: ``__call__`` decides where a request goes, ``proxy_to`` forwards it.

``/api`` requests never enter Flask (it would only add cost). On the admin port every request
goes to the Flask app (``/health``, ``/ready``, ``/metrics``, ``/status``, ``/dashboard``); on
the main port only ``/api`` and ``/health`` are served, anything else is a JSON 404. Every
request gets one JSON access-log line.

For movies requests the share in force comes from the split controller (settings, ramp,
guard); each answer of the movies service to a routed (not forced) request feeds the guard,
and a share of movies GETs is mirrored to the other backend for comparison.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from proxy_service.accesslog import AccessLog
from proxy_service.breaker import CircuitBreaker
from proxy_service.config import RoutingSettings
from proxy_service.forwarding import (
    AnswerThenDiscard,
    BadBody,
    BodyTooLarge,
    StreamedBody,
    client_host,
    client_scheme,
    read_body,
    request_headers,
    request_id_of,
    request_target,
    response_headers,
    status_line,
)
from proxy_service.metrics import Metrics
from proxy_service.routing import MONOLITH, MOVIES, MOVIES_ROUTE, BadOverride, Decision, choose_upstream, route_of
from proxy_service.routing_file import RoutingSource
from proxy_service.safety import MigrationSafety
from proxy_service.shadow import should_mirror
from proxy_service.upstream import TIMEOUT, Response, Upstream, UpstreamError

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]
_FALLBACK_METHODS = frozenset({"GET", "HEAD"})
# A backend's 503 says its database is unavailable, and the monolith shares that database: asking it
# too would only double the wait (docs/decisions/0012-no-fallback-on-a-503.md).
_NO_FALLBACK_STATUSES = frozenset({503})
# The only path outside /api the main port answers; the rest is on the admin port.
_PUBLIC_OWN_PATHS = frozenset({"/health"})


@dataclass(slots=True)
class Call:
    """One request on its way through the gateway: what the access log and the metrics report."""

    environ: dict[str, Any]
    start_response: StartResponse
    started: float
    request_id: str
    route: str
    decision: Decision | None = None
    upstream: str | None = None
    fallback: str | None = None
    status: int = 0


class Gateway:
    """Routes ``/api`` requests to the backends and hands every other request to ``app``."""

    def __init__(self, app: Callable, *, upstreams: dict[str, Upstream], routing: RoutingSource,
                 breaker: CircuitBreaker, metrics: Metrics, salt: str, max_body_bytes: int,
                 safety: MigrationSafety, random_source: Callable[[], float] = random.random,
                 access_log: AccessLog | None = None) -> None:
        self.app = app
        self.safety = safety
        self._admin_port = str(safety.admin_port)
        self.access_log = access_log or AccessLog()
        self.upstreams = upstreams
        self.routing = routing
        self.breaker = breaker
        self.metrics = metrics
        self.salt = salt
        self.max_body_bytes = max_body_bytes
        self.random = random_source

    def close(self) -> None:
        """Close the idle connections to every backend and stop the background work."""
        for upstream in self.upstreams.values():
            upstream.close_idle()
        self.safety.close()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request."""
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        admin = environ.get("SERVER_PORT") == self._admin_port
        route = None if admin else route_of(path)
        if route is None:
            if not admin and path not in _PUBLIC_OWN_PATHS:
                call = Call(environ, start_response, started, request_id_of(environ), "gateway")
                return self._error(call, 404, "not found", record=False)
            return self._own(environ, start_response, started)
        call = Call(environ, start_response, started, request_id_of(environ), route)
        try:
            return self._route(call)
        except Exception:
            # The gateway's own bug still gets a JSON answer, as Flask's handler gives the other routes.
            log.exception("unhandled error in the gateway", extra={"request_id": call.request_id})
            return self._error(call, 500, "internal server error")

    def _route(self, call: Call) -> Iterable[bytes]:
        environ, route = call.environ, call.route
        try:
            body = read_body(environ, self.max_body_bytes)
        except BodyTooLarge as error:
            answer = self._error(call, 413, f"request body larger than {self.max_body_bytes} bytes")
            return AnswerThenDiscard(b"".join(answer), environ["wsgi.input"], error.unread)
        except BadBody as error:
            # The client went away or framed its body badly: nothing is forwarded, nobody else is blamed.
            log.warning("unreadable request body", extra={"request_id": call.request_id,
                                                          "reason": repr(error.__cause__ or error)})
            return self._error(call, 400, str(error))
        settings = self.routing.current()
        try:
            call.decision = choose_upstream(
                route, settings, user_id=environ.get("HTTP_X_USER_ID", "").strip() or None,
                override=environ.get("HTTP_X_MIGRATION_TARGET"), salt=self.salt, random=self.random,
                movies_available=self.breaker.allow,
                movies_percent=self.safety.split.current().percent if route == MOVIES_ROUTE else None)
        except BadOverride as error:
            return self._error(call, 400, f"X-Migration-Target must be 'legacy' or 'new', not {str(error)!r}")
        if call.decision.forced:
            self.metrics.override(call.decision.upstream)
        may_fall_back = (settings.fallback_enabled and call.decision.upstream == MOVIES
                         and not call.decision.forced and environ["REQUEST_METHOD"] in _FALLBACK_METHODS)
        return self.proxy_to(call, body, settings, may_fall_back=may_fall_back)

    def proxy_to(self, call: Call, body: bytes, settings: RoutingSettings, *,
                 may_fall_back: bool = False) -> Iterable[bytes]:
        """Forward the request to the chosen backend under ``settings``, falling back to the monolith when allowed."""
        decision = call.decision
        call.upstream = decision.upstream
        response, failure = self._exchange(call, body)
        if decision.reason == "circuit-open":
            call.fallback = "circuit-open"
            # The split chose the movies service and its open circuit refused it: for the guard, a failure,
            # or an open circuit would hide a bad service from the guard after a handful of answers.
            self.safety.guard.record(True, 0.0)
        elif call.upstream == MOVIES and may_fall_back and (failure is not None or _falls_back(response.status)):
            if response is not None:
                response.close()
            call.fallback = failure.kind if failure else f"status-{response.status}"
            call.upstream = MONOLITH
            response, failure = self._exchange(call, body)
        if call.fallback:
            self.metrics.fallback(call.fallback)
        if failure is not None:
            return self._error(call, 504 if failure.kind == TIMEOUT else 502, str(failure))
        call.status = response.status
        environ = call.environ
        headers = response_headers(response, call.upstream, call.request_id,
                                   backend=self.upstreams[call.upstream].address,
                                   client_base=f"{client_scheme(environ)}://{client_host(environ)}")
        if call.fallback:
            headers.append(("X-Fallback-From", MOVIES))
            headers.append(("X-Fallback-Reason", call.fallback))
        if should_mirror(call.route, environ["REQUEST_METHOD"], settings.shadow_percent, self.random):
            self.safety.mirror(call.route, environ, call.request_id, response, served_by=call.upstream,
                               host_header_of={name: up.address.host_header for name, up in self.upstreams.items()},
                               ignore=settings.shadow_ignore_fields)
        if response.body is None:
            call.start_response(status_line(response), headers)
            return StreamedBody(response, lambda: self._record(call))
        # Recorded before start_response, so nothing can fail once the status is given.
        self._record(call)
        call.start_response(status_line(response), headers)
        return [response.body]

    def _exchange(self, call: Call, body: bytes) -> tuple[Response | None, UpstreamError | None]:
        name, environ = call.upstream, call.environ
        upstream = self.upstreams[name]
        headers = request_headers(environ, upstream.address.host_header, call.request_id, len(body))
        watched = name == MOVIES and not call.decision.forced
        sent = time.perf_counter()
        try:
            response = upstream.send(environ["REQUEST_METHOD"], request_target(environ), headers, body)
        except UpstreamError as error:
            self.metrics.upstream_error(name, error.kind)
            if name == MOVIES and not error.request_caused:
                self.breaker.record_failure()
                if watched:
                    self.safety.guard.record(True, time.perf_counter() - sent)
            return None, error
        if watched:
            self.safety.guard.record(response.status >= 500, time.perf_counter() - sent)
        if name == MOVIES:
            if response.status >= 500:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
        return response, None

    def _own(self, environ: dict[str, Any], start_response: StartResponse, started: float) -> Iterable[bytes]:
        call = Call(environ, start_response, started, request_id_of(environ), "gateway")

        def recording_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            call.status = int(status[:3])
            return start_response(status, headers, exc_info)

        result = self.app(environ, recording_start_response)
        self._log(call)
        return result

    def _error(self, call: Call, status: int, message: str, *, record: bool = True) -> Iterable[bytes]:
        body = json.dumps({"error": message}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   ("X-Request-ID", call.request_id)]
        if call.upstream is not None:
            headers.append(("X-Upstream", call.upstream))
        call.status = status
        if record:
            self._record(call)
        else:
            self._log(call)
        call.start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def _record(self, call: Call) -> None:
        self.metrics.observe(call.route, call.upstream or "none", call.status, time.perf_counter() - call.started)
        self._log(call)

    def _log(self, call: Call) -> None:
        path = call.environ.get("PATH_INFO", "")
        self.access_log.write(
            request_id=call.request_id,
            method=call.environ.get("REQUEST_METHOD"),
            # WSGI gives the path's bytes as latin-1; a UTF-8 path reads better decoded as such.
            path=path if path.isascii() else path.encode("latin-1").decode("utf-8", "replace"),
            route=call.route,
            upstream=call.upstream,
            decision=call.decision.reason if call.decision else None,
            status=call.status,
            duration_ms=round((time.perf_counter() - call.started) * 1000, 3),
            fallback=call.fallback,
        )


def _falls_back(status: int) -> bool:
    """Tell whether a movies-service answer with ``status`` is worth asking the monolith instead."""
    return status >= 500 and status not in _NO_FALLBACK_STATUSES
