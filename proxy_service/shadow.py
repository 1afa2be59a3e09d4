"""The parallel run: a share of movies GETs is also sent, in the background, to the backend that did not serve them.

The client's answer is sent as usual; the gateway only hands a copy of the request and of
the answer to a bounded pool of background workers (greenlets under the gevent worker).
Past ``max_in_flight`` mirrored requests in a worker, a request is skipped and counted.
Each result is counted as ``match``, ``mismatch``, ``error`` (the other backend failed or
an answer could not be read) or ``skipped``; the last mismatches, with their differences,
are kept for ``/status`` and shared with the other workers through their shared files.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from proxy_service.ramp import format_instant
from proxy_service.raw_target import TARGET_HEADER
from proxy_service.routing import MOVIES_ROUTE
from proxy_service.session import backend_session
from proxy_service.shadow_compare import Undecodable, compare_answers, decode_body
from proxy_service.worker_files import WorkerFiles

log = logging.getLogger(__name__)
MATCH, MISMATCH, ERROR, SKIPPED = "match", "mismatch", "error", "skipped"
KEPT_MISMATCHES = 50
MISMATCH_FILES = "shadow-mismatches-"
SHARE_SECONDS = 0.25


@dataclass(frozen=True)
class Served:
    """What the client got: the backend that served it, its status, body and ``Content-Encoding``.

    ``body`` is None for a response streamed to the client, which is not kept to compare.
    """

    upstream: str
    status: int
    body: bytes | None
    content_encoding: str | None = None


@dataclass(frozen=True)
class MirrorJob:
    """One request to repeat: its route, target and headers, what the client got, and the backend to ask."""

    route: str
    target: str
    headers: dict[str, str]
    served: Served
    other: str
    ignore: frozenset[str] = frozenset()


def should_mirror(route: str, method: str, percent: float, random: Callable[[], float]) -> bool:
    """Tell whether to mirror this request: a movies GET, drawn with probability ``percent`` / 100."""
    return percent > 0 and method == "GET" and route == MOVIES_ROUTE and random() * 100 < percent


class ShadowRunner:
    """Mirrors requests to the other backend in the background and compares the two answers."""

    def __init__(self, urls: dict[str, str], *, max_in_flight: int = 16, connect_timeout: float = 2.0,
                 read_timeout: float = 10.0, files: WorkerFiles | None = None,
                 on_result: Callable[[str, str], None] = lambda route, result: None,
                 clock: Callable[[], float] = time.time) -> None:
        self._urls = urls
        self._max_in_flight = max_in_flight
        self._timeouts = (connect_timeout, read_timeout)
        self._files = files or WorkerFiles(None)
        self._on_result = on_result
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._mismatches: deque[dict[str, Any]] = deque(maxlen=KEPT_MISMATCHES)
        self._unshared = False
        self._shared_at = float("-inf")
        self._pool = ThreadPoolExecutor(max_workers=max(1, max_in_flight), thread_name_prefix="shadow")
        # The gateway's own kind of session: no cookie kept, nothing from the environment, raw targets.
        self._sessions = {name: backend_session(max(1, max_in_flight))[0] for name in urls}

    def close(self) -> None:
        """Stop taking work and close the connections to the backends."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        for session in self._sessions.values():
            session.close()

    @property
    def in_flight(self) -> int:
        """Return how many mirrored requests are on their way now."""
        return self._in_flight

    def mirror(self, job: MirrorJob) -> bool:
        """Send the job's GET to its other backend in the background and compare; return whether it was sent.

        Never blocks and never raises for the backends' sake: past the bound, or without a body to
        compare, the request is counted as ``skipped``.
        """
        route = job.route
        if job.served.body is None:
            self._on_result(route, SKIPPED)
            return False
        with self._lock:
            if self._in_flight >= self._max_in_flight:
                skipped = True
            else:
                skipped = False
                self._in_flight += 1
        if skipped:
            self._on_result(route, SKIPPED)
            return False
        try:
            self._pool.submit(self._run, job)
        except RuntimeError:
            # The pool is shut down: the worker is stopping.
            self._release()
            self._on_result(route, SKIPPED)
            return False
        return True

    def mismatches(self) -> list[dict[str, Any]]:
        """Return the last mismatches of every worker, the newest first."""
        own = self._own_file()
        shared = [entry for kept in self._files.read_all(MISMATCH_FILES, skip=own) if isinstance(kept, list)
                  for entry in kept if isinstance(entry, dict)]
        with self._lock:
            entries = shared + list(self._mismatches)
        entries.sort(key=lambda entry: entry.get("t", 0), reverse=True)
        return entries[:KEPT_MISMATCHES]

    def _run(self, job: MirrorJob) -> None:
        try:
            result = self._compare(job)
        except Exception:
            # A bug here must not kill the pool's worker; the count says it happened.
            log.exception("shadow comparison failed", extra={"target": job.target})
            result = ERROR
        finally:
            self._release()
        self._on_result(job.route, result)
        self._share()

    def _compare(self, job: MirrorJob) -> str:
        target, headers, served, other, ignore = job.target, job.headers, job.served, job.other, job.ignore
        session = self._sessions[other]
        # The target goes as received, not as requests or urllib3 would re-quote it (raw_target.py).
        prepared = session.prepare_request(requests.Request("GET", self._urls[other] + target,
                                                            headers={**headers, TARGET_HEADER: target}))
        prepared.url = self._urls[other] + target
        try:
            answer = session.send(prepared, timeout=self._timeouts, allow_redirects=False)
            other_body = answer.content
        except requests.RequestException as error:
            log.info("shadow request failed", extra={"target": target, "upstream": other, "reason": str(error)})
            return ERROR
        try:
            served_body = decode_body(served.body or b"", served.content_encoding)
        except Undecodable as error:
            log.info("shadow comparison skipped an undecodable body", extra={"target": target, "reason": str(error)})
            return ERROR
        differences = compare_answers((served.upstream, other), (served.status, answer.status_code),
                                      (served_body, other_body), ignore)
        if not differences:
            return MATCH
        now = self._clock()
        self._keep({"at": format_instant(now), "t": now, "path": target, "served_by": served.upstream,
                    "statuses": {served.upstream: served.status, other: answer.status_code},
                    "differences": differences, "worker": os.getpid()})
        return MISMATCH

    def _keep(self, mismatch: dict[str, Any]) -> None:
        with self._lock:
            self._mismatches.append(mismatch)
            self._unshared = True

    def _share(self) -> None:
        # At most one write every SHARE_SECONDS, so a flood of mismatches costs no flood of writes;
        # one left unshared goes out with the next comparison's result.
        now = time.monotonic()
        with self._lock:
            if not self._unshared or now < self._shared_at + SHARE_SECONDS:
                return
            self._unshared, self._shared_at = False, now
            kept = list(self._mismatches)
        self._files.write(self._own_file(), kept)

    @staticmethod
    def _own_file() -> str:
        return f"{MISMATCH_FILES}{os.getpid()}.json"

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
