"""Every image's own command, run from a venv of only that service's requirements, against a real stack.

This is ``docker compose up`` without Docker: for each service that compose builds, the
final stage of its Dockerfile is laid out on the host (COPY, venv, ENV, WORKDIR), its
command runs with the image's environment plus the compose environment (compose host
names rewritten to this machine's real PostgreSQL and Kafka-protocol broker), in compose's
dependency order, each waiting for the one before to pass its compose healthcheck. A
requirement missing from a service's requirements.txt, a file the image does not copy,
or a variable the service does not understand stops its start here.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
import requests

from devstack import kafka
from devstack.net import free_port
from tests.deploy import compose_support as compose
from tests.deploy.container_support import StandIn, lay_out
from tests.deploy.docker_support import ROOT

VENV_CACHE = ROOT / os.environ.get("VAR_DIR", "var") / "deploy-venvs"
COMPOSE = compose.load()
BUILT = compose.built_services(COMPOSE)
ORDER = compose.start_order(BUILT)


def _container_port(service: dict) -> int:
    """The port the service listens on inside its container, from its published ports."""
    return int(str(service["ports"][0]).rsplit(":", 1)[1])


def _infrastructure_endpoints(database_port: int, database: str, broker: str | None) -> dict[str, str]:
    """Compose addresses of PostgreSQL and Kafka, and what stands in for them here."""
    services = COMPOSE["services"]
    postgres_env = compose.environment(services["postgres"])
    endpoints = {
        f"postgres:{_container_port(services['postgres'])}/{postgres_env['POSTGRES_DB']}":
            f"127.0.0.1:{database_port}/{database}",
    }
    if broker:
        advertised = compose.environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
        for listener in advertised.split(","):
            address = listener.split("://", 1)[1]
            if address.startswith("kafka:"):
                endpoints[address] = broker
    return endpoints


def _rewrite(value: str, endpoints: dict[str, str]) -> str:
    for address in sorted(endpoints, key=len, reverse=True):
        value = value.replace(address, endpoints[address])
    return value


@pytest.fixture(scope="module")
def stack_database(postgres_server) -> str:
    """A database of the session's PostgreSQL server for this stack, seeded like the compose one."""
    name = "deploy_stack"
    postgres_server.new_database(name)
    return name


@pytest.fixture(scope="module")
def broker() -> Iterator[str | None]:
    """A Kafka-protocol broker, when compose gives any service ``KAFKA_BROKERS``."""
    if not any("KAFKA_BROKERS" in compose.environment(service) for service in BUILT.values()):
        yield None
        return
    with kafka.running(free_port()) as address:
        yield address


@pytest.fixture(scope="module")
def stack(postgres_server, stack_database, broker, tmp_path_factory) -> Iterator[dict[str, StandIn]]:
    """Start every built service in compose order; each must pass its compose healthcheck before the next."""
    logs = tmp_path_factory.mktemp("stack-logs")
    endpoints = _infrastructure_endpoints(postgres_server.port, stack_database, broker)
    ports = {name: free_port() for name in ORDER}
    for name in ORDER:
        endpoints[f"{name}:{_container_port(BUILT[name])}"] = f"127.0.0.1:{ports[name]}"
    hostnames = re.compile(rf"\b({'|'.join(map(re.escape, COMPOSE['services']))}):\d+")
    running: dict[str, StandIn] = {}
    try:
        for name in ORDER:
            service = BUILT[name]
            layout = lay_out(compose.dockerfile_of(service), tmp_path_factory.mktemp(name), VENV_CACHE)
            env = {**layout.env, "HOME": str(layout.root)}
            env.update({key: _rewrite(value, endpoints) for key, value in compose.environment(service).items()})
            unresolved = {key: value for key, value in env.items() if hostnames.search(value)}
            assert not unresolved, f"{name}: compose addresses with no stand-in: {unresolved}"
            # Only what must differ on a shared host: free ports on loopback (the gateway's admin
            # port too; the others ignore ADMIN_PORT), one worker.
            env.update(PORT=str(ports[name]), ADMIN_PORT=str(free_port()), BIND_HOST="127.0.0.1", WEB_CONCURRENCY="1")
            running[name] = StandIn(name, layout, env, logs)
            running[name].wait_until(service["healthcheck"]["test"][1:], layout.healthcheck_timeout)
        yield running
    finally:
        for stand_in in reversed(running.values()):
            stand_in.terminate()


@pytest.mark.parametrize("name", ORDER)
def test_command_comes_from_a_venv_of_the_service_requirements_only(stack, name):
    stand_in = stack[name]
    assert stand_in.executable.startswith(f"{stand_in.layout.venv}/bin/")
    assert (stand_in.layout.venv / ".complete").read_text().strip() == str(ROOT / compose.package_of(BUILT[name])
                                                                          / "requirements.txt")


@pytest.mark.parametrize("name", ORDER)
def test_docker_healthcheck_passes(stack, name):
    stand_in = stack[name]
    result = stand_in.check(stand_in.layout.healthcheck, stand_in.layout.healthcheck_timeout)
    assert result.returncode == 0, result.stderr + stand_in.logs()


@pytest.mark.parametrize("name", ORDER)
def test_starts_without_an_error_and_without_a_control_socket(stack, name):
    # In the image HOME is /nonexistent and the root filesystem read-only: gunicorn 27's control
    # socket is switched off by cinema_common.serving, so it must not try to make one.
    assert not list(stack[name].layout.root.rglob("gunicorn.ctl"))
    output = stack[name].stdout.read_text() + stack[name].stderr.read_text()
    assert [line for line in output.splitlines() if "[ERROR]" in line or '"level": "error"' in line] == []


@pytest.mark.parametrize("name", ORDER)
def test_docker_healthcheck_fails_when_nothing_answers(stack, name):
    layout = stack[name].layout
    result = stack[name].check(layout.healthcheck, layout.healthcheck_timeout, PORT=str(free_port()))
    assert result.returncode == 1


def _access_lines(stand_in: StandIn, path: str) -> int:
    """Count the log lines (stdout and stderr: both reach `docker logs`) of a 200 GET of ``path``."""
    output = stand_in.stdout.read_text() + stand_in.stderr.read_text()
    return sum(1 for line in output.splitlines() if "GET" in line and path in line and "200" in line)


@pytest.mark.parametrize("name", ORDER)
def test_every_request_reaches_the_container_log(stack, name):
    path = re.search(r"'(/[^']*)'", stack[name].layout.healthcheck[-1]).group(1)
    before = _access_lines(stack[name], path)
    response = requests.get(f"http://127.0.0.1:{stack[name].env['PORT']}{path}", timeout=5)
    assert response.status_code == 200
    deadline = time.monotonic() + 5
    while _access_lines(stack[name], path) == before:
        assert time.monotonic() < deadline, stack[name].logs()
        time.sleep(0.05)


def test_the_gateway_reaches_every_backend_at_its_compose_address(stack):
    gateway = next(name for name in ORDER if "MONOLITH_URL" in compose.environment(BUILT[name]))
    base = f"http://127.0.0.1:{stack[gateway].env['PORT']}"
    movies = {requests.get(f"{base}/api/movies", headers={"X-User-Id": str(user)}, timeout=5).headers["X-Upstream"]
              for user in range(40)}
    assert movies == {"monolith", "movies-service"}  # compose's 50 percent
    assert requests.get(f"{base}/api/users", timeout=5).headers["X-Upstream"] == "monolith"
    event = requests.post(f"{base}/api/events/movie", json={"movie_id": 1, "title": "Arrival", "action": "viewed"},
                          timeout=10)
    assert (event.status_code, event.headers["X-Upstream"]) == (201, "events-service"), event.text


@pytest.mark.parametrize("name", list(reversed(ORDER)))
def test_sigterm_stops_the_service_cleanly(stack, name):
    assert stack[name].terminate() == 0, stack[name].logs()
