"""How a backend's ``requests.Session`` is set up: no cookies kept, a pooled adapter, a narrow retry.

- :class:`NoCookies` is the jar's policy: nothing stored, nothing sent, so a session shared
  by every client never replays one client's cookie in another client's request.
- :class:`StaleConnectionRetry` is urllib3's ``Retry``, resending only an idempotent
  request whose connection closed before any answer (a keep-alive connection the backend
  had just closed).
- :class:`ForwardingAdapter` sends raw targets (:mod:`proxy_service.raw_target`) and wraps
  responses without the cookie parsing the gateway never reads.
- :class:`PoolOverflowIsExpected` keeps urllib3's pool-full warning out of the log.
"""

from __future__ import annotations

import logging
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.cookies import RequestsCookieJar
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

from proxy_service.raw_target import RawTargetAdapter

# Methods a connection the backend closed before answering may be resent for.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CLOSED = (ConnectionResetError, BrokenPipeError)  # http.client's RemoteDisconnected is a ConnectionResetError


class PoolOverflowIsExpected(logging.Filter):
    """Drops urllib3's warning that a connection was closed because the pool was full.

    More requests at once than ``UPSTREAM_POOL_SIZE`` open extra connections that are closed
    after use; that is the pool's design, and a warning per request would flood the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but the pool-full warning."""
        return not record.getMessage().startswith("Connection pool is full")


logging.getLogger("urllib3.connectionpool").addFilter(PoolOverflowIsExpected())


class NoCookies(DefaultCookiePolicy):
    """A cookie policy that keeps and sends nothing: the shared session must never replay a client's cookie."""

    def set_ok(self, cookie, request) -> bool:
        """Refuse to store any cookie."""
        return False

    def return_ok(self, cookie, request) -> bool:
        """Refuse to send any stored cookie."""
        return False


class StaleConnectionRetry(Retry):
    """urllib3's ``Retry``, resending only an idempotent request whose connection closed before any answer.

    That is the signature of a keep-alive connection the backend closed just as it was
    reused. Read timeouts and broken answers are never resent; connect failures are not
    either (``connect=0``); writes never are (``allowed_methods``).
    """

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        """Count one retry, or re-raise ``error`` when it is not a connection closed before answering."""
        if error is not None and not closed_before_answering(error):
            return Retry.increment(self.new(read=False), method, url, response, error, _pool, _stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


class ForwardingAdapter(RawTargetAdapter):
    """The adapter the gateway sends through: raw targets, and responses wrapped without reading cookies."""

    def build_response(self, req: requests.PreparedRequest, resp) -> requests.Response:
        """Wrap urllib3's response as ``HTTPAdapter`` does, minus the cookie jar and header copy nobody reads.

        The gateway keeps no cookie and reads status, headers and body from ``raw``.
        """
        response = requests.Response()
        response.status_code = resp.status
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url
        response.request = req
        response.connection = self
        return response


def closed_before_answering(error: BaseException) -> bool:
    """Tell whether ``error`` is urllib3's word for a connection closed before any byte of the answer."""
    return isinstance(error, ProtocolError) and len(error.args) > 1 and isinstance(error.args[1], CLOSED)


def backend_session(pool_size: int) -> tuple[requests.Session, ForwardingAdapter]:
    """Return a session that ignores the environment and keeps no cookie, and its mounted adapter."""
    session = requests.Session()
    session.trust_env = False
    session.cookies = RequestsCookieJar(policy=NoCookies())
    retry = StaleConnectionRetry(total=1, connect=0, read=1, redirect=0, status=0, other=0,
                                 allowed_methods=IDEMPOTENT, raise_on_redirect=False, raise_on_status=False)
    adapter = ForwardingAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=retry)
    session.mount("http://", adapter)
    return session, adapter
