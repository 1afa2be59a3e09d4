"""The Helm chart helm/cinemaabyss, linted and rendered by Helm itself (helm-python-sdk), offline."""

from __future__ import annotations

import base64
import json
import re

import helm_python as helm
import pytest
import yaml

from tests.deploy import k8s_support as k8s

VALUE_SETS = {
    "default": None,
    "no-autoscaling-tls-owner": {"image": {"owner": "octo-org", "tag": "sha-0123abc"},
                                 "proxyService": {"autoscaling": {"enabled": False}},
                                 "ingress": {"host": "cinema.example.org",
                                             "tls": [{"secretName": "cinema-tls", "hosts": ["cinema.example.org"]}]}},
    "pull-secret-and-password": {"imagePullSecret": {"create": True, "username": "octocat", "password": "ghp_x"},
                                 "postgresql": {"auth": {"password": "s3cret"}}},
    "external-dependencies": {"postgresql": {"enabled": False, "externalUrl": "postgresql://db.example:5432/cinema"},
                              "kafka": {"enabled": False, "externalBrokers": "k1:9092,k2:9092"},
                              "monolith": {"enabled": False, "externalUrl": "http://legacy.example:8080"}},
    "scheduling": {"nodeSelector": {"kubernetes.io/os": "linux"},
                   "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
                   "podAnnotations": {"prometheus.io/scrape": "true"}, "ingress": {"enabled": False}},
}


def _lint(values=None):
    return helm.lint(k8s.CHART, values, strict=True, kube_version=f"v{k8s.KUBERNETES_VERSION}")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint_is_clean_in_strict_mode(name):
    report = _lint(VALUE_SETS[name])
    assert report["errors"] == []
    # Severity 2 is a warning, 3 an error; the only note left is the informational "icon is recommended".
    assert [message for message in report["messages"] if message["severity"] >= 2] == []


def test_lint_reports_a_value_the_schema_refuses():
    report = _lint({"migration": {"moviesPercent": 150}})
    assert any("moviesPercent" in error and "maximum" in error for error in report["errors"])


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_rendered_object_validates_against_the_kubernetes_1_30_schema_in_strict_mode(name):
    objects = k8s.rendered_objects(VALUE_SETS[name])
    assert objects
    errors = {k8s.name_of(obj): k8s.schema_error(obj) for obj in objects}
    assert {name: error for name, error in errors.items() if error} == {}


@pytest.mark.parametrize(("values", "message"), [
    ({"migration": {"moviesPercent": 101}}, "maximum: got 101, want 100"),
    ({"migration": {"moviesPercent": "80%"}}, "want integer"),
    ({"migraton": {"moviesPercent": 80}}, "additional properties 'migraton' not allowed"),
    ({"monolith": {"replicas": 3}}, "additional properties 'replicas' not allowed"),
    ({"imagePullSecret": {"create": True, "username": "octocat"}}, "imagePullSecret.password"),
    ({"postgresql": {"enabled": False}}, "set postgresql.externalUrl"),
    ({"moviesService": {"enabled": False}}, "movies-service is disabled: set its externalUrl"),
])
def test_a_wrong_value_stops_the_render_with_a_message_naming_it(values, message):
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        k8s.render(values)


def test_the_layout_is_helm_create_s():
    chart = yaml.safe_load((k8s.CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert (chart["apiVersion"], chart["name"], chart["type"]) == ("v2", "cinemaabyss", "application")
    helpers = (k8s.CHART / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    defined = set(re.findall(r'define "cinemaabyss\.(\w+)"', helpers))
    assert {"name", "fullname", "chart", "labels", "selectorLabels", "serviceAccountName"} <= defined
    for path in (".helmignore", "values.yaml", "values.schema.json", "templates/NOTES.txt",
                 "templates/tests/test-gateway.yaml"):
        assert (k8s.CHART / path).is_file(), path


# Maps whose keys are Kubernetes fields or free-form names, described by the comment on the map itself.
FREE_FORM = {"resources", "env", "podSecurityContext", "securityContext", "annotations", "podAnnotations",
             "nodeSelector", "affinity"}


def test_every_value_has_a_comment():
    lines = (k8s.CHART / "values.yaml").read_text(encoding="utf-8").splitlines()
    uncommented, parents = [], []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        indent, key = len(match[1]), match[2]
        parents = [(level, name) for level, name in parents if level < indent]
        inside_free_form = any(name in FREE_FORM for _, name in parents)
        previous = lines[number - 1].strip() if number else ""
        if not inside_free_form and not previous.startswith("#"):
            uncommented.append(".".join([name for _, name in parents] + [key]))
        parents.append((indent, key))
    assert uncommented == []


def test_no_credential_is_committed_in_the_values():
    values = yaml.safe_load((k8s.CHART / "values.yaml").read_text(encoding="utf-8"))
    assert values["imagePullSecret"]["password"] == values["imagePullSecret"]["username"] == ""
    assert values["postgresql"]["auth"]["password"] == ""


def test_the_database_password_is_generated_when_none_is_given():
    secrets = [k8s.of_kind(k8s.rendered_objects(), "Secret")["cinemaabyss-postgres"] for _ in range(2)]
    passwords = [k8s.secret_value(secret, "POSTGRES_PASSWORD") for secret in secrets]
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", password) for password in passwords)
    # Offline there is no installed Secret to keep (`lookup` finds nothing), so each render draws anew.
    assert passwords[0] != passwords[1]


def test_a_given_password_or_an_existing_secret_is_used():
    given = k8s.rendered_objects({"postgresql": {"auth": {"password": "s3cret"}}})
    assert k8s.secret_value(k8s.of_kind(given, "Secret")["cinemaabyss-postgres"], "POSTGRES_PASSWORD") == "s3cret"
    existing = k8s.rendered_objects({"postgresql": {"auth": {"existingSecret": "db-credentials"}}})
    assert "cinemaabyss-postgres" not in k8s.of_kind(existing, "Secret")
    references = {item["valueFrom"]["secretKeyRef"]["name"] for workload in k8s.workloads(existing)
                  for container in k8s.containers(workload) for item in container.get("env", [])
                  if "secretKeyRef" in item.get("valueFrom", {})}
    assert references == {"db-credentials"}


def test_the_pull_secret_is_made_from_values_and_used_by_every_service_pod():
    objects = k8s.rendered_objects(VALUE_SETS["pull-secret-and-password"])
    secret = k8s.of_kind(objects, "Secret")["cinemaabyss-registry"]
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert config == {"auths": {"ghcr.io": {"username": "octocat", "password": "ghp_x",
                                            "auth": base64.b64encode(b"octocat:ghp_x").decode()}}}
    pulling = {k8s.name_of(obj): k8s.pod_spec(obj).get("imagePullSecrets") for obj in k8s.workloads(objects)
               if "ghcr.io/" in k8s.containers(obj)[0]["image"]}
    assert len(pulling) == 5 and set(map(json.dumps, pulling.values())) == {'[{"name": "cinemaabyss-registry"}]'}


def test_by_default_no_pull_secret_is_made_and_an_existing_one_can_be_named():
    default = k8s.rendered_objects()
    assert "cinemaabyss-registry" not in k8s.of_kind(default, "Secret")
    assert all("imagePullSecrets" not in k8s.pod_spec(obj) for obj in k8s.workloads(default))
    named = k8s.rendered_objects({"imagePullSecret": {"name": "ghcr-pull-secret"}})
    assert [k8s.pod_spec(obj)["imagePullSecrets"] for obj in k8s.of_kind(named, "Deployment").values()] == [
        [{"name": "ghcr-pull-secret"}]] * 4


def test_images_follow_the_owner_and_tag_values():
    objects = k8s.rendered_objects(VALUE_SETS["no-autoscaling-tls-owner"])
    images = sorted(k8s.containers(obj)[0]["image"] for obj in k8s.of_kind(objects, "Deployment").values())
    assert images == [f"ghcr.io/octo-org/cinemaabyss/{service}:sha-0123abc"
                      for service in ("events-service", "monolith", "movies-service", "proxy-service")]
    own = k8s.rendered_objects({"monolith": {"image": {"repository": "registry.example/legacy", "tag": "1.2.3"}}})
    assert k8s.containers(k8s.of_kind(own, "Deployment")["cinemaabyss-monolith"])[0]["image"] == (
        "registry.example/legacy:1.2.3")


def test_disabled_dependencies_are_replaced_by_their_external_addresses():
    objects = k8s.rendered_objects(VALUE_SETS["external-dependencies"])
    assert sorted(k8s.component(obj) for obj in k8s.workloads(objects) if obj["kind"] != "Pod") == [
        "events-service", "movies-service", "proxy-service"]
    config = k8s.of_kind(objects, "ConfigMap")["cinemaabyss-config"]["data"]
    assert (config["DB_CONNECTION_STRING"], config["KAFKA_BROKERS"], config["MONOLITH_URL"]) == (
        "postgresql://db.example:5432/cinema", "k1:9092,k2:9092", "http://legacy.example:8080")


def test_scheduling_values_reach_every_pod():
    objects = k8s.rendered_objects(VALUE_SETS["scheduling"])
    for workload in k8s.workloads(objects):
        spec = k8s.pod_spec(workload)
        assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}, k8s.name_of(workload)
        assert spec["tolerations"][0]["key"] == "dedicated"
    assert not k8s.of_kind(objects, "Ingress")
    assert "port-forward svc/cinemaabyss-proxy-service 8000:8000" in k8s.notes(VALUE_SETS["scheduling"])


def test_the_notes_tell_where_the_api_is_and_how_to_move_traffic():
    notes = k8s.notes()
    assert "http://cinemaabyss.example.com/" in notes
    assert "--set migration.moviesPercent=80" in notes
    assert "helm test cinemaabyss -n cinemaabyss" in notes
    assert "50% to movies-service" in notes
