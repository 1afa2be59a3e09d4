"""The WSGI apps the benchmark serves besides the gateway: the ceiling (also the upstream) and a naive proxy."""

from __future__ import annotations

import os

import requests
from flask import Flask, Response, jsonify, request

MOVIES = [
    {"id": number, "title": f"Movie {number}", "description": "A film about films.", "genres": ["drama", "comedy"],
     "rating": 7.5}
    for number in range(1, 4)
]
# Response headers a proxy must not pass on (RFC 9110 section 7.6.1), for the naive proxy.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
               "content-encoding", "content-length"}


def ceiling_app() -> Flask:
    """A bare Flask app: one JSON route, nothing else. Its throughput is the framework's ceiling."""
    app = Flask(__name__)

    @app.get("/api/movies")
    def movies() -> Response:
        return jsonify(MOVIES)

    @app.get("/health")
    def health() -> Response:
        return jsonify(status=True)

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
        kept = [(name, value) for name, value in answer.raw.headers.items() if name.lower() not in _HOP_BY_HOP]
        return Response(answer.content, status=answer.status_code, headers=kept)

    return app
