"""Hostile bodies under real gunicorn: a cut body, bad chunked framing and a wrong content type publish nothing."""

from __future__ import annotations

import os
import socket

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.events_service.served import Service

BODY = b'{"movie_id": 1, "title": "Solaris", "action": "viewed"}'


@pytest.fixture(scope="module")
def service(broker, tmp_path_factory):
    """One service for the module, in a consumer group of its own."""
    served = Service(broker.bootstrap, f"events-bodies-{os.getpid()}", tmp_path_factory.mktemp("bodies") / "log")
    yield served
    served.stop()


def _raw(service: Service, head: bytes, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _produced(service: Service) -> float:
    text = requests.get(f"{service.url}/metrics", timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == "events_produced_total")


@pytest.mark.parametrize(("head", "body"), [
    (b"Content-Type: application/json\r\nContent-Length: 200\r\n", BODY),
    (b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", b"ff\r\n" + BODY + b"\r\n0\r\n\r\n"),
    (b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", b"zz\r\n" + BODY),
], ids=["cut", "chunk-longer-than-sent", "chunk-size-not-hex"])
def test_a_cut_or_badly_chunked_body_is_a_400_and_publishes_nothing(service, head, body):
    before = _produced(service)
    answer = _raw(service, b"POST /api/events/movie HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + head + b"\r\n",
                  body)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert _produced(service) == before


def test_text_plain_is_a_415_and_publishes_nothing(service):
    before = _produced(service)
    response = requests.post(f"{service.url}/api/events/movie", data=BODY, headers={"Content-Type": "text/plain"},
                             timeout=10)
    assert (response.status_code, response.headers["Content-Type"]) == (415, "application/json")
    assert _produced(service) == before
    assert requests.post(f"{service.url}/api/events/movie", data=BODY, timeout=10,
                         headers={"Content-Type": "application/json"}).status_code == 201
