"""Forwarding through requests, with ``responses`` in place of the backend: errors, cookies, raw targets, headers."""

from __future__ import annotations

import http.client
import logging

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from proxy_service.config import UpstreamAddress
from proxy_service.raw_target import TARGET_HEADER
from proxy_service.session import StaleConnectionRetry
from proxy_service.upstream import BROKEN, REFUSED, TIMEOUT, Upstream, UpstreamError

BASE = "http://backend.test:8080"


@pytest.fixture
def upstream():
    backend = Upstream("monolith", UpstreamAddress.parse("X", BASE), connect_timeout=0.5, read_timeout=2,
                       buffer_limit=1000)
    yield backend
    backend.close_idle()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def send(upstream, target="/api/users", method="GET", headers=None, body=b""):
    return upstream.send(method, target, {"Host": "backend.test:8080", **(headers or {})}, body)


def sent(mocked, index=-1) -> requests.PreparedRequest:
    return mocked.calls[index].request


@pytest.mark.parametrize("target", ["/api/mo%2576ies", "/api/users/%d0%b8?q=%20a&q=%7e", "/api/x|y?a=b c"])
def test_the_target_is_sent_as_given(upstream, mocked, target):
    mocked.get(f"{BASE}{target.replace(' ', '%20')}", body="ok")
    send(upstream, target)
    assert sent(mocked).url == BASE + target
    assert sent(mocked).headers[TARGET_HEADER] == target


def test_headers_come_back_in_order_with_repeats_and_the_body_undecoded(upstream, mocked):
    mocked.get(f"{BASE}/api/users", body=b"\x1f\x8b-gzip-bytes", status=201,
               headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Encoding", "gzip")])
    response = send(upstream)
    assert response.status == 201
    assert [pair for pair in response.headers if pair[0] != "Content-Type"] == [
        ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Encoding", "gzip")]
    assert response.body == b"\x1f\x8b-gzip-bytes"


def test_a_cookie_set_for_one_client_never_reaches_the_backend_for_another(upstream, mocked):
    mocked.get(f"{BASE}/api/login", body="ok", headers=[("Set-Cookie", "session=alice; Path=/")])
    mocked.get(f"{BASE}/api/users", body="ok")
    send(upstream, "/api/login")
    send(upstream, "/api/users")
    assert "Cookie" not in sent(mocked).headers
    assert len(upstream.session.cookies) == 0
    assert upstream.session.trust_env is False


def test_a_client_cookie_is_passed_on_and_not_kept(upstream, mocked):
    mocked.get(f"{BASE}/api/users", body="ok")
    send(upstream, headers={"Cookie": "mine=1"})
    send(upstream)
    assert sent(mocked, 0).headers["Cookie"] == "mine=1"
    assert "Cookie" not in sent(mocked, 1).headers


def test_a_body_over_the_buffer_streams(upstream, mocked):
    mocked.get(f"{BASE}/api/users", body=b"x" * 5000)
    response = send(upstream)
    assert response.body is None
    assert b"".join(response.chunks()) == b"x" * 5000
    mocked.get(f"{BASE}/api/small", body=b"y" * 1000)
    assert send(upstream, "/api/small").body == b"y" * 1000


def _refused() -> Exception:
    reason = NewConnectionError(None, "Failed to establish a new connection")
    reason.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return requests.ConnectionError(MaxRetryError(None, BASE, reason))


@pytest.mark.parametrize(("error", "kind", "message", "request_caused"), [
    (requests.ConnectTimeout(), TIMEOUT, "connecting to monolith timed out", False),
    (requests.ReadTimeout(ReadTimeoutError(None, BASE, "read timed out")), TIMEOUT,
     "timed out reading the response", False),
    (_refused(), REFUSED, "cannot connect to monolith: Connection refused", False),
    (requests.ConnectionError(ProtocolError("Connection aborted.", http.client.RemoteDisconnected("gone"))),
     BROKEN, "monolith closed the connection before answering", True),
    (requests.ConnectionError(ProtocolError("Connection aborted.", http.client.BadStatusLine("ICY 200"))),
     BROKEN, "bad or broken response from monolith: ICY 200", False),
])
def test_transport_errors_are_mapped(upstream, mocked, error, kind, message, request_caused):
    mocked.post(f"{BASE}/api/users", body=error)
    with pytest.raises(UpstreamError) as caught:
        send(upstream, method="POST", body=b"{}")
    assert (caught.value.kind, str(caught.value), caught.value.request_caused) == (kind, message, request_caused)


def test_only_an_idempotent_request_on_a_connection_closed_before_answering_is_resent():
    retry = StaleConnectionRetry(total=1, connect=0, read=1, allowed_methods=frozenset({"GET"}))
    closed = ProtocolError("Connection aborted.", ConnectionResetError("reset"))
    assert retry.increment("GET", "/", error=closed).total == 0
    with pytest.raises(ProtocolError):
        retry.increment("POST", "/", error=closed)
    with pytest.raises(ReadTimeoutError):
        retry.increment("GET", "/", error=ReadTimeoutError(None, "/", "slow"))
    with pytest.raises(ProtocolError):
        retry.increment("GET", "/", error=ProtocolError("Connection broken", http.client.IncompleteRead(b"")))
    with pytest.raises(MaxRetryError):
        retry.increment("GET", "/", error=NewConnectionError(None, "refused"))


def test_a_full_pool_closes_extra_connections_without_a_warning(caplog):
    logger = logging.getLogger("urllib3.connectionpool")
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logger.warning("Connection pool is full, discarding connection: %s. Connection pool size: %s", "h", 4)
        logger.warning("Failed to parse headers")
    assert [record.getMessage() for record in caplog.records] == ["Failed to parse headers"]
