"""The chart as a release: the same system as kubernetes/, upgrades that move traffic, autoscaling and `helm test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from proxy_service.config import ROUTING_KEYS, RoutingSettings
from proxy_service.routing_file import RoutingSource
from tests.deploy import k8s_support as k8s

PLAIN = k8s.plain_objects()
CHART = k8s.rendered_objects()
TEST_SCRIPT = k8s.CHART / "files" / "test_gateway.py"


def _describe(objects: list[k8s.Object]) -> dict[tuple[str, str], dict]:
    """Reduce the workloads and Services to what must agree: kinds, images, ports, probes, env names, mounts."""
    described = {}
    for obj in objects:
        if obj["kind"] == "Service":
            described[("Service", k8s.component(obj))] = {
                "ports": [(port["name"], port["port"], port["targetPort"]) for port in obj["spec"]["ports"]],
                "headless": obj["spec"].get("clusterIP") == "None"}
        elif obj["kind"] in ("Deployment", "StatefulSet"):
            spec = k8s.pod_spec(obj)
            described[(obj["kind"], k8s.component(obj))] = {
                "pod securityContext": spec["securityContext"],
                "terminationGracePeriodSeconds": spec.get("terminationGracePeriodSeconds", 30),
                "containers": [{
                    "name": container["name"],
                    "image": container["image"],
                    "ports": container["ports"],
                    "probes": {probe: container.get(probe) for probe in ("startupProbe", "readinessProbe",
                                                                         "livenessProbe")},
                    "env names": sorted(item["name"] for item in container["env"]),
                    "resources": container["resources"],
                    "securityContext": container["securityContext"],
                    "mounts": sorted(mount["mountPath"] for mount in container.get("volumeMounts", [])),
                } for container in k8s.containers(obj)],
            }
    return described


def test_the_chart_s_default_render_describes_the_same_workloads_as_the_plain_manifests():
    plain, chart = _describe(PLAIN), _describe(CHART)
    assert sorted(plain) == sorted(chart)
    for key in plain:
        assert plain[key] == chart[key], key


def test_the_same_settings_reach_the_services():
    def config_of(objects):
        (config,) = [obj for name, obj in k8s.of_kind(objects, "ConfigMap").items() if name.endswith("-config")]
        return config["data"]
    plain, chart = config_of(PLAIN), config_of(CHART)
    assert sorted(plain) == sorted(chart)
    assert plain["routing.env"].splitlines()[-1] == chart["routing.env"].splitlines()[-1] == (
        "MOVIES_MIGRATION_PERCENT=50")
    replicas = {k8s.component(obj): obj["spec"].get("replicas") for obj in k8s.of_kind(PLAIN, "Deployment").values()}
    chart_replicas = {k8s.component(obj): obj["spec"].get("replicas")
                      for obj in k8s.of_kind(CHART, "Deployment").values()}
    (hpa,) = k8s.of_kind(CHART, "HorizontalPodAutoscaler").values()
    chart_replicas["proxy-service"] = hpa["spec"]["minReplicas"]
    assert replicas == chart_replicas


def _pod_templates(objects: list[k8s.Object]) -> dict[str, dict]:
    return {k8s.name_of(obj): obj["spec"]["template"] for obj in objects
            if obj["kind"] in ("Deployment", "StatefulSet")}


def test_an_upgrade_that_moves_traffic_changes_the_routing_file_and_restarts_nothing():
    moved = k8s.rendered_objects({"migration": {"moviesPercent": 80}})
    changed = [k8s.name_of(obj) for obj, before in zip(moved, CHART, strict=True)
               if obj != before and obj["kind"] != "Secret"]  # the Secret's password is drawn anew offline
    assert changed == ["ConfigMap/cinemaabyss-config"]
    assert _pod_templates(moved) == _pod_templates(CHART)


def test_a_new_service_address_restarts_the_pods_that_read_it():
    moved = k8s.rendered_objects({"moviesService": {"port": 9081}})
    before, after = _pod_templates(CHART), _pod_templates(moved)
    checksum = "checksum/config"
    assert before["Deployment/cinemaabyss-proxy-service"]["metadata"]["annotations"][checksum] != (
        after["Deployment/cinemaabyss-proxy-service"]["metadata"]["annotations"][checksum])
    new_user = _pod_templates(k8s.rendered_objects({"postgresql": {"auth": {"username": "cinema"}}}))
    assert before["Deployment/cinemaabyss-monolith"]["metadata"]["annotations"]["checksum/secret"] != (
        new_user["Deployment/cinemaabyss-monolith"]["metadata"]["annotations"]["checksum/secret"])


def _gateway(objects: list[k8s.Object]) -> tuple[k8s.Object, k8s.Object, dict[str, str]]:
    (gateway,) = [obj for obj in k8s.of_kind(objects, "Deployment").values() if k8s.component(obj) == "proxy-service"]
    (container,) = k8s.containers(gateway)
    return gateway, container, k8s.container_env(container, objects)


class KubeletVolume:
    """A ConfigMap volume laid out as the kubelet writes it: files behind a `..data` symlink it swaps atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._generation = 0

    def write(self, files: dict[str, str]) -> None:
        """Publish a new version of every file at once, as the kubelet does on a ConfigMap change."""
        self._generation += 1
        version = self.root / f"..version_{self._generation}"
        version.mkdir()
        for name, text in files.items():
            (version / name).write_text(text, encoding="utf-8")
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(Path("..data") / name)
        staging = self.root / "..data_tmp"
        staging.symlink_to(version.name)
        os.replace(staging, self.root / "..data")


@pytest.mark.parametrize("source", ["kubernetes/", "helm"])
def test_the_gateway_follows_a_configmap_change_without_a_restart(source, tmp_path):
    objects = PLAIN if source == "kubernetes/" else CHART
    gateway, container, env = _gateway(objects)
    mounted = env["ROUTING_CONFIG_FILE"]
    assert not set(ROUTING_KEYS) & set(env), "the routing settings belong in the file alone"
    volume = KubeletVolume(tmp_path)
    filename = Path(mounted).name
    volume.write({filename: k8s.mounted_file(gateway, container, mounted, objects)})
    now = [0.0]
    routing = RoutingSource(RoutingSettings.read(env), str(tmp_path / filename), check_seconds=1.0,
                            clock=lambda: now[0])
    assert (routing.current().gradual_migration, routing.current().movies_migration_percent) == (True, 50)
    upgraded = k8s.rendered_objects({"migration": {"moviesPercent": 80}})
    upgraded_gateway, upgraded_container, _ = _gateway(upgraded)
    volume.write({filename: k8s.mounted_file(upgraded_gateway, upgraded_container, mounted, upgraded)})
    now[0] += 1.0
    assert routing.current().movies_migration_percent == 80
    assert routing.state.source == str(tmp_path / filename) and routing.state.error is None


def test_the_gateway_autoscales_and_keeps_a_pod_through_disruptions():
    (hpa,) = k8s.of_kind(CHART, "HorizontalPodAutoscaler").values()
    (pdb,) = k8s.of_kind(CHART, "PodDisruptionBudget").values()
    gateway, _, _ = _gateway(CHART)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": gateway["metadata"]["name"]}
    assert "replicas" not in gateway["spec"], "the autoscaler owns the replica count"
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"] >= 1
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    fixed = k8s.rendered_objects({"proxyService": {"autoscaling": {"enabled": False}, "replicaCount": 3}})
    assert not k8s.of_kind(fixed, "HorizontalPodAutoscaler")
    assert _gateway(fixed)[0]["spec"]["replicas"] == 3


def test_helm_test_runs_the_check_script_against_the_gateway_service():
    (pod,) = [obj for obj in CHART if obj["kind"] == "Pod"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = k8s.containers(pod)
    assert container["command"] == ["python", "-c"]
    assert container["args"] == [TEST_SCRIPT.read_text(encoding="utf-8")]
    gateway_service = k8s.of_kind(CHART, "Service")["cinemaabyss-proxy-service"]
    assert container["env"] == [{"name": "GATEWAY_URL", "value": "http://cinemaabyss-proxy-service:8000"}]
    assert gateway_service["spec"]["ports"][0]["port"] == 8000
    assert container["image"] == _gateway(CHART)[1]["image"]


@contextmanager
def _fake_gateway(movies_status: int, movies: object) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = (200, {"status": True}) if self.path == "/health" else (movies_status, movies)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Upstream", "movies-service")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(("status", "movies", "passes"), [
    (200, [{"id": 1, "title": "Arrival"}], True),
    (200, [], False),
    (503, {"error": "database unavailable"}, False),
])
def test_the_helm_test_script_passes_only_when_the_gateway_serves_movies(status, movies, passes):
    with _fake_gateway(status, movies) as url:
        result = subprocess.run([sys.executable, "-c", TEST_SCRIPT.read_text(encoding="utf-8")],
                                env={"GATEWAY_URL": url, "PATH": os.environ.get("PATH", "")},
                                capture_output=True, text=True, timeout=30, check=False)
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    if passes:
        assert "GET /api/movies: 1 movies, served by movies-service" in result.stdout
