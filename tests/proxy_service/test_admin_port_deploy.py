"""The gateway's admin port in every deployment: probes and Prometheus use it, the ingress never routes to it."""

from __future__ import annotations

import pytest

from tests.deploy import compose_support as compose
from tests.deploy import k8s_support as k8s

SOURCES = {"kubernetes/": k8s.plain_objects(), "helm": k8s.rendered_objects(),
           "helm-other-ports": k8s.rendered_objects({"proxyService": {"port": 8100, "adminPort": 9100}})}


def gateway_of(objects: list[k8s.Object]) -> tuple[k8s.Object, k8s.Object]:
    (deployment,) = [obj for obj in k8s.of_kind(objects, "Deployment").values()
                     if k8s.component(obj) == "proxy-service"]
    (service,) = [obj for obj in k8s.of_kind(objects, "Service").values() if k8s.component(obj) == "proxy-service"]
    return deployment, service


@pytest.mark.parametrize("source", SOURCES)
def test_probes_and_prometheus_use_the_admin_port(source):
    deployment, service = gateway_of(SOURCES[source])
    (container,) = k8s.containers(deployment)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert ports["admin"] == int(env["ADMIN_PORT"]) != ports["http"] == int(env["PORT"])
    assert {probe: container[probe]["httpGet"]["port"] for probe in ("readinessProbe", "livenessProbe")} == {
        "readinessProbe": "admin", "livenessProbe": "admin"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"],
            annotations["prometheus.io/path"]) == ("true", str(ports["admin"]), "/metrics")
    assert {port["name"]: port["targetPort"] for port in service["spec"]["ports"]} == {"http": "http", "admin": "admin"}


@pytest.mark.parametrize("source", SOURCES)
def test_the_ingress_never_routes_to_the_admin_port(source):
    _, service = gateway_of(SOURCES[source])
    (ingress,) = k8s.of_kind(SOURCES[source], "Ingress").values()
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    to_gateway = [backend["port"] for backend in backends if backend["name"] == service["metadata"]["name"]]
    assert to_gateway == [{"name": "http"}]


def test_the_chart_refuses_one_port_for_both():
    with pytest.raises(Exception, match="adminPort must differ"):
        k8s.rendered_objects({"proxyService": {"port": 9000, "adminPort": 9000}})


def test_compose_checks_the_gateway_on_its_admin_port():
    test = " ".join(compose.load()["services"]["proxy-service"]["healthcheck"]["test"])
    assert "os.environ.get('ADMIN_PORT', '9000')" in test and "'/ready'" in test
