"""Checks a Kubernetes operator makes by reading, applied alike to the plain manifests and the chart's render."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.deploy import k8s_support as k8s
from tests.deploy.k8s_policy import image_problem, security_problems

SOURCES = {"kubernetes/": k8s.plain_objects(), "helm": k8s.rendered_objects()}
WORKLOADS = [(source, workload) for source, objects in SOURCES.items() for workload in k8s.workloads(objects)]


def _id(case: tuple) -> str:
    source, obj = case
    return f"{source}:{k8s.name_of(obj)}"


@pytest.mark.parametrize("case", WORKLOADS, ids=map(_id, WORKLOADS))
def test_every_pod_is_restricted_and_hardened(case):
    _, workload = case
    assert security_problems(workload) == []


@pytest.mark.parametrize("case", WORKLOADS, ids=map(_id, WORKLOADS))
def test_every_image_says_where_it_comes_from(case):
    _, workload = case
    assert [image_problem(workload, container) for container in k8s.containers(workload)] == [
        None for _ in k8s.containers(workload)]


@pytest.mark.parametrize("source", SOURCES)
def test_every_service_selects_pods_that_have_its_target_port(source):
    objects = SOURCES[source]
    templates = [(workload["spec"]["template"]["metadata"]["labels"], k8s.containers(workload))
                 for workload in k8s.workloads(objects) if workload["kind"] in ("Deployment", "StatefulSet")]
    for service in k8s.of_kind(objects, "Service").values():
        selector = service["spec"]["selector"]
        matched = [pod_containers for labels, pod_containers in templates if selector.items() <= labels.items()]
        assert len(matched) == 1, f"{k8s.name_of(service)} selects {len(matched)} workloads"
        port_names = {port["name"] for container in matched[0] for port in container.get("ports", [])}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names


@pytest.mark.parametrize("source", SOURCES)
def test_every_workload_selector_matches_its_own_pods(source):
    for workload in k8s.workloads(SOURCES[source]):
        if workload["kind"] in ("Deployment", "StatefulSet"):
            selector = workload["spec"]["selector"]["matchLabels"]
            assert selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()


def _service_ports(objects: list[k8s.Object]) -> dict[str, set[int]]:
    return {name: {port["port"] for port in service["spec"]["ports"]}
            for name, service in k8s.of_kind(objects, "Service").items()}


@pytest.mark.parametrize("source", SOURCES)
def test_the_shared_settings_point_at_services_of_the_release(source):
    objects = SOURCES[source]
    (config,) = [configmap for name, configmap in k8s.of_kind(objects, "ConfigMap").items()
                 if name.endswith("cinemaabyss-config")]
    ports = _service_ports(objects)
    addresses = [config["data"][key] for key in ("MONOLITH_URL", "MOVIES_SERVICE_URL", "EVENTS_SERVICE_URL",
                                                  "DB_CONNECTION_STRING")]
    addresses += [f"kafka://{broker}" for broker in config["data"]["KAFKA_BROKERS"].split(",")]
    for address in addresses:
        parts = urlsplit(address)
        assert parts.port in ports.get(parts.hostname, set()), f"{address}: no such Service and port"
    assert "@" not in config["data"]["DB_CONNECTION_STRING"], "credentials belong in the Secret"


@pytest.mark.parametrize("source", SOURCES)
def test_the_ingress_sends_events_to_the_events_service_and_the_rest_to_the_gateway(source):
    objects = SOURCES[source]
    (ingress,) = k8s.of_kind(objects, "Ingress").values()
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "cinemaabyss.example.com"
    services = k8s.of_kind(objects, "Service")
    routes = {}
    for path in rule["http"]["paths"]:
        backend = path["backend"]["service"]
        service = services[backend["name"]]
        assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
        routes[(path["path"], path["pathType"])] = k8s.component(service)
    assert routes == {("/api/events", "Prefix"): "events-service", ("/", "Prefix"): "proxy-service"}


@pytest.mark.parametrize("source", SOURCES)
def test_stateful_parts_keep_their_data_on_persistent_volumes(source):
    statefulsets = {k8s.component(obj): obj for obj in k8s.of_kind(SOURCES[source], "StatefulSet").values()}
    assert set(statefulsets) == {"postgres", "kafka"}
    for statefulset in statefulsets.values():
        (claim,) = statefulset["spec"]["volumeClaimTemplates"]
        (container,) = k8s.containers(statefulset)
        assert claim["metadata"]["name"] in {mount["name"] for mount in container["volumeMounts"]}
        assert claim["spec"]["resources"]["requests"]["storage"]
        assert statefulset["spec"]["serviceName"] in k8s.of_kind(SOURCES[source], "Service")


@pytest.mark.parametrize("source", SOURCES)
def test_kafka_is_one_kraft_node_that_advertises_its_service(source):
    objects = SOURCES[source]
    (kafka,) = [obj for obj in k8s.of_kind(objects, "StatefulSet").values() if k8s.component(obj) == "kafka"]
    (container,) = k8s.containers(kafka)
    env = k8s.container_env(container, objects)
    assert container["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["spec"]["replicas"] == 1 and env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9093"
    assert env["CLUSTER_ID"] and env["KAFKA_LOG_DIRS"].startswith("/var/lib/kafka/data/")
    advertised = urlsplit(env["KAFKA_ADVERTISED_LISTENERS"].replace("PLAINTEXT://", "kafka://"))
    assert advertised.hostname == kafka["spec"]["serviceName"] and advertised.port == 9092
    # Without this, Services named kafka would inject KAFKA_PORT=tcp://... which the image reads as a property.
    assert k8s.pod_spec(kafka)["enableServiceLinks"] is False
