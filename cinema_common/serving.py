"""Gunicorn settings shared by every service, for the local stack and the images alike."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from gunicorn import glogging, util
from gunicorn.http import wsgi

from cinema_common.env import ConfigError, EnvReader


class _ServiceConfig(Protocol):
    port: int


def load_or_exit(from_env: Callable[[], _ServiceConfig], service: str) -> _ServiceConfig:
    """Read a service's settings, stopping the process with one line when one is invalid."""
    try:
        return from_env()
    except ConfigError as error:
        # SystemExit with a message prints just that line: no traceback for a typo.
        raise SystemExit(f"{service}: {error}") from None


def write_json_error(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """Answer a request gunicorn refuses itself (URI too long, bad headers) with a JSON error, not HTML."""
    error = f"{reason.lower()}: {message}" if message else reason.lower()
    body = json.dumps({"error": error}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class CoalescingResponse(wsgi.Response):
    """gunicorn's response, sending the header block and the first body bytes with one ``send``.

    gunicorn sends the header block and then each body chunk on their own; for the usual
    response, a single chunk, that is two sends, and two wake-ups of the client, where one
    does. Chunked and bodiless responses, and everything after the first chunk, go gunicorn's way.
    """

    def write(self, arg: bytes) -> None:
        """Send ``arg``, preceded by the header block if that has not gone yet."""
        if (self.headers_sent or self.chunked or self._omits_body or not isinstance(arg, bytes)
                or (self.response_length is not None and len(arg) > self.response_length)):
            super().write(arg)
            return
        head = self.default_headers()
        head.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        head.append("\r\n")
        self.headers_sent = True
        self.sent += len(arg)
        util.write(self.sock, "".join(head).encode("latin-1") + arg)


class AccessLogger(glogging.Logger):
    """gunicorn's logger, with access lines that skip what the format does not print.

    gunicorn builds an atom for every request header, response header and WSGI environ
    entry of every request, whatever the format; with the default format, which prints
    none of them, that was most of the access log's cost (about 50 µs a request in the
    events service). Formats that name ``{...}i``, ``{...}o`` or ``{...}e`` atoms get them all.
    """

    def setup(self, cfg) -> None:
        """Read the settings (at start and on every reload), and whether the format names per-header atoms."""
        super().setup(cfg)
        self._format_names_headers = "}" in cfg.access_log_format

    def atoms(self, resp, req, environ, request_time) -> dict[str, Any]:
        """Return the atoms of one access line; the per-header ones only when the format uses them."""
        if self._format_names_headers:
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        sent = getattr(resp, "sent", None)
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "l": "-",
            "u": self._get_user(environ) or "-",
            "t": self.now(),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status.split(None, 1)[0] if isinstance(status, str) else status,
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "q": environ.get("QUERY_STRING"),
            "H": environ.get("SERVER_PROTOCOL"),
            "b": "-" if sent is None else str(sent),
            "B": sent,
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
            "T": request_time.seconds,
            "D": request_time.seconds * 1_000_000 + request_time.microseconds,
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
            "L": f"{request_time.seconds}.{request_time.microseconds:06d}",
            "p": f"<{os.getpid()}>",
        }


def gunicorn_settings(from_env: Callable[[], _ServiceConfig], service: str, *, workers: int = 2,
                      threads: int = 4, worker_class: str = "gthread",
                      environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Return gunicorn settings for ``service``, after checking its own configuration.

    ``WEB_CONCURRENCY``, ``GUNICORN_THREADS``, ``GUNICORN_WORKER_CLASS`` and ``BIND_HOST``
    override the defaults given here.
    """
    config = load_or_exit(from_env, service)
    # Gunicorn answers a request it cannot parse before any app sees it, with an HTML page; every
    # worker calls gunicorn.util.write_error for that, so replacing it keeps every error JSON.
    util.write_error = write_json_error
    # wsgi.create builds every HTTP/1 response from this module attribute.
    wsgi.Response = CoalescingResponse
    env = EnvReader(environ)
    try:
        return {
            "bind": f"{env.string('BIND_HOST', '0.0.0.0')}:{config.port}",
            "workers": env.integer("WEB_CONCURRENCY", workers, minimum=1, maximum=64),
            "threads": env.integer("GUNICORN_THREADS", threads, minimum=1, maximum=256),
            "worker_class": env.string("GUNICORN_WORKER_CLASS", worker_class),
            "proc_name": service,
            "accesslog": "-",
            "logger_class": "cinema_common.serving.AccessLogger",
            "errorlog": "-",
            "timeout": 30,
            "graceful_timeout": 20,
            "keepalive": 5,
            # Workers build the app themselves, so every pool and thread is made after fork.
            "preload_app": False,
            # gunicorn 27's runtime control socket is unused here, and several services on one
            # host would fight over its default path under $HOME.
            "control_socket_disable": True,
        }
    except ConfigError as error:
        raise SystemExit(f"{service}: {error}") from None
