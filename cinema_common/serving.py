"""Gunicorn settings shared by every service, for the local stack and the images alike.

gunicorn is used as it comes: its own response class, its own access-log atoms, and its
own error pages for the few requests it refuses before any app sees them (a request
line or header over its limits, 414 and 431; an unparsable request, 400; an
``Expect`` it does not support, 417; an unsupported transfer coding, 501). Those pages
are short HTML, not JSON; ``openapi.yaml`` documents them as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

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


def gunicorn_settings(from_env: Callable[[], _ServiceConfig], service: str, *, workers: int = 2,
                      threads: int = 4, worker_class: str = "gthread",
                      environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Return gunicorn settings for ``service``, after checking its own configuration.

    ``WEB_CONCURRENCY``, ``GUNICORN_THREADS``, ``GUNICORN_WORKER_CLASS`` and ``BIND_HOST``
    override the defaults given here.
    """
    config = load_or_exit(from_env, service)
    env = EnvReader(environ)
    try:
        return {
            "bind": f"{env.string('BIND_HOST', '0.0.0.0')}:{config.port}",
            "workers": env.integer("WEB_CONCURRENCY", workers, minimum=1, maximum=64),
            "threads": env.integer("GUNICORN_THREADS", threads, minimum=1, maximum=256),
            "worker_class": env.string("GUNICORN_WORKER_CLASS", worker_class),
            "proc_name": service,
            "accesslog": "-",
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
