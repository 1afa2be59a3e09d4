"""A loopback HTTP server answering every GET with a JSON document the test sets: a backend to compare with."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.proxy_service.backends import LoopbackServer


class JsonBackend(LoopbackServer):
    """Answers every request with ``status`` and ``document`` as JSON, after ``delay`` seconds; counts requests."""

    def __init__(self, document: Any, *, status: int = 200) -> None:
        self.document = document
        self.status = status
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                backend.requests.append({"method": self.command, "target": self.path,
                                         "headers": {k.lower(): v for k, v in self.headers.items()}})
                if backend.delay:
                    time.sleep(backend.delay)
                payload = json.dumps(backend.document).encode()
                self.send_response(backend.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = answer

        self.serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
