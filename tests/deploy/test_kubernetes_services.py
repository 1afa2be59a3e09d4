"""Each Deployment against the service it runs: environment names, port, probes, as the code defines them.

Applied to the plain manifests, to the chart's default render and to a render with other values.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import pytest

from tests.deploy import k8s_services as services
from tests.deploy import k8s_support as k8s

OTHER_VALUES = {
    "fullnameOverride": "abyss",
    "migration": {"gradual": False, "moviesPercent": 100},
    "monolith": {"port": 9080, "env": {"DB_TIMEOUT_SECONDS": "2"}},
    "proxyService": {"port": 9000, "adminPort": 9100, "autoscaling": {"enabled": False},
                     "env": {"UPSTREAM_READ_TIMEOUT_SECONDS": "5"}},
    "eventsService": {"env": {"KAFKA_TOPIC_PARTITIONS": "6"}},
}
SOURCES = {"kubernetes/": k8s.plain_objects(), "helm": k8s.rendered_objects(),
           "helm-other-values": k8s.rendered_objects(OTHER_VALUES)}
CASES = [(source, deployment) for source, objects in SOURCES.items()
         for deployment in k8s.of_kind(objects, "Deployment").values()]


def _id(case: tuple) -> str:
    source, deployment = case
    return f"{source}:{k8s.component(deployment)}"


@functools.cache
def routes_of(component: str) -> frozenset[str]:
    """Return the GET routes of a service, from its app's url_map."""
    with services.offline_app(services.PACKAGES[component]) as app:
        return services.get_routes(app)


def test_every_service_has_a_deployment_in_every_source():
    for source, objects in SOURCES.items():
        assert sorted(k8s.component(obj) for obj in k8s.of_kind(objects, "Deployment").values()) == sorted(
            services.PACKAGES), source


@pytest.mark.parametrize("case", CASES, ids=map(_id, CASES))
def test_environment_names_are_the_ones_the_service_reads(case):
    _, deployment = case
    package = services.PACKAGES[k8s.component(deployment)]
    (container,) = k8s.containers(deployment)
    names = {item["name"] for item in container["env"]}
    assert names - services.environment_names(package) == set()


@pytest.mark.parametrize("case", CASES, ids=map(_id, CASES))
def test_the_environment_starts_the_service_on_the_container_port(case):
    source, deployment = case
    package = services.PACKAGES[k8s.component(deployment)]
    (container,) = k8s.containers(deployment)
    env = k8s.container_env(container, SOURCES[source])
    config = services.load_config(package, env)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert config.port == ports.pop("http")
    # The gateway's second port, its admin port, is the only other one.
    assert ports == ({"admin": config.admin_port} if hasattr(config, "admin_port") else {})
    # Every dependency is named: nothing is left at its localhost default.
    assert "localhost" not in repr(config)
    bind = services.gunicorn_start(package, env)["bind"]
    assert ([bind] if isinstance(bind, str) else bind) == [f"0.0.0.0:{port['containerPort']}"
                                                           for port in container["ports"]]


@pytest.mark.parametrize("case", CASES, ids=map(_id, CASES))
def test_probes_ask_the_health_routes_the_service_registers(case):
    _, deployment = case
    component = k8s.component(deployment)
    (container,) = k8s.containers(deployment)
    port_names = {port["name"] for port in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        action = container[probe]["httpGet"]
        assert action["path"] in routes_of(component), f"{probe} asks {action['path']}, not a route of {component}"
        assert action["port"] in port_names
    assert container["livenessProbe"]["httpGet"]["path"] != container["readinessProbe"]["httpGet"]["path"]


@pytest.mark.parametrize("component", services.PACKAGES)
def test_liveness_holds_and_readiness_fails_while_dependencies_are_down(component):
    # So an outage of PostgreSQL, Kafka or an upstream takes pods out of the Service
    # without the kubelet restarting them all.
    (deployment,) = [obj for obj in k8s.of_kind(SOURCES["kubernetes/"], "Deployment").values()
                     if k8s.component(obj) == component]
    (container,) = k8s.containers(deployment)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    with services.offline_app(services.PACKAGES[component]) as app:
        client = app.test_client()
        for probe, status in (("livenessProbe", 200), ("readinessProbe", 503)):
            action = container[probe]["httpGet"]
            # The request arrives on the probe's port, as the kubelet's does (the gateway serves probes on one).
            response = client.get(action["path"], base_url=f"http://localhost:{ports[action['port']]}")
            assert response.status_code == status, probe


def test_libpq_takes_the_role_from_the_environment_not_from_the_url(postgres_server):
    # The manifests keep credentials out of DB_CONNECTION_STRING; libpq reads PGUSER and PGPASSWORD.
    objects = SOURCES["kubernetes/"]
    (container,) = k8s.containers(k8s.of_kind(objects, "Deployment")["monolith"])
    env = k8s.container_env(container, objects)
    url = env["DB_CONNECTION_STRING"].replace("//postgres:5432/", f"//127.0.0.1:{postgres_server.port}/")
    script = "import psycopg, sys; print(psycopg.connect(sys.argv[1]).execute('SELECT current_user').fetchone()[0])"
    result = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True, timeout=30,
                            env={"PGUSER": env["PGUSER"], "PGPASSWORD": env["PGPASSWORD"],
                                 "PATH": os.environ.get("PATH", "")}, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, "cinemaabyss"), result.stderr
