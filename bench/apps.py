"""The WSGI apps the benchmark serves besides the gateway: the ceiling (also the upstream) and two plain proxies."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import requests
from flask import Flask, Response, jsonify, request

MOVIES = [
    {"id": number, "title": f"Movie {number}", "description": "A film about films.", "genres": ["drama", "comedy"],
     "rating": 7.5}
    for number in range(1, 4)
]
# Response headers a proxy must not pass on (RFC 9110 section 7.6.1), for the naive proxy.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
# The naive proxy decodes the body (``answer.content``), so the backend's encoding and length no longer apply.
_NOT_KEPT_DECODED = _HOP_BY_HOP | {"content-encoding", "content-length"}
STREAM_BYTES = 200 * 1024 * 1024
_BLOCK = bytes(range(256)) * 256


def ceiling_app() -> Flask:
    """A bare Flask app: one JSON route, nothing else. Its throughput is the framework's ceiling."""
    app = Flask(__name__)

    @app.get("/api/movies")
    def movies() -> Response:
        return jsonify(MOVIES)

    @app.get("/health")
    def health() -> Response:
        return jsonify(status=True)

    @app.get("/api/stream")
    def stream() -> Response:
        def blocks() -> Iterator[bytes]:
            for _ in range(STREAM_BYTES // len(_BLOCK)):
                yield _BLOCK

        return Response(blocks(), content_type="application/octet-stream",
                        headers={"Content-Length": str(STREAM_BYTES)})

    return app


def naive_proxy_app() -> Flask:
    """The proxy most tutorials write: ``requests.request`` per request, no session, no pooling."""
    upstream = os.environ["NAIVE_UPSTREAM_URL"].rstrip("/")
    app = Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def proxy(path: str) -> Response:
        headers = {name: value for name, value in request.headers if name.lower() != "host"}
        answer = requests.request(request.method, f"{upstream}/{path}", params=request.args, headers=headers,
                                  data=request.get_data(), allow_redirects=False, timeout=10)
        kept = [(name, value) for name, value in answer.raw.headers.items() if name.lower() not in _NOT_KEPT_DECODED]
        return Response(answer.content, status=answer.status_code, headers=kept)

    return app


def session_proxy_app() -> Callable:
    """The plainest pooled forward with requests: one ``Session``, ``Session.request`` per call, nothing else.

    A bare WSGI callable (no Flask, no routing, metrics or logging, no request headers passed
    on): the cost floor of forwarding with ``requests``, which the gateway is measured against.
    """
    upstream = os.environ["NAIVE_UPSTREAM_URL"].rstrip("/")
    session = requests.Session()
    session.trust_env = False

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        answer = session.request(environ["REQUEST_METHOD"], upstream + (environ.get("RAW_URI") or "/"), data=body,
                                 stream=True, allow_redirects=False, timeout=(2, 10))
        data = answer.raw.read(decode_content=False)
        kept = [(name, value) for name, value in answer.raw.headers.items() if name.lower() not in _HOP_BY_HOP]
        start_response(f"{answer.status_code} {answer.reason}", kept)
        return [data]

    return app
