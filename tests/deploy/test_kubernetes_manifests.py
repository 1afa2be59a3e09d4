"""The plain manifests in kubernetes/: one `kubectl apply -f kubernetes/` on an empty cluster, read offline."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

from tests.deploy import k8s_support as k8s
from tests.deploy.k8s_policy import OWNER_PLACEHOLDER

sync_schema = k8s.sync_schema_module()
OBJECTS = k8s.plain_objects()
DEPLOYMENTS = k8s.of_kind(OBJECTS, "Deployment")
PULL_SECRET_FILE = k8s.MANIFESTS / "registry" / "ghcr-pull-secret.yaml"


@pytest.mark.parametrize("path", k8s.every_manifest_file(), ids=lambda path: str(path.relative_to(k8s.MANIFESTS)))
def test_every_manifest_validates_against_the_kubernetes_1_30_schema_in_strict_mode(path):
    objects = k8s.documents(path.read_text(encoding="utf-8"))
    assert objects, f"{path.name} holds no object"
    errors = {k8s.name_of(obj): k8s.schema_error(obj) for obj in objects}
    assert {name: error for name, error in errors.items() if error} == {}


def test_strict_validation_rejects_a_misspelt_field():
    deployment = copy.deepcopy(DEPLOYMENTS["monolith"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert "'readinesProbe' was unexpected" in k8s.schema_error(deployment)


def test_one_pass_apply_creates_the_namespace_before_anything_in_it():
    first, *rest = OBJECTS
    assert (first["kind"], first["metadata"]["name"]) == ("Namespace", k8s.NAMESPACE)
    assert k8s.applied_files()[0].name == "00-namespace.yaml"
    assert {k8s.name_of(obj): obj["metadata"].get("namespace") for obj in rest} == {
        k8s.name_of(obj): k8s.NAMESPACE for obj in rest}


def test_the_namespace_enforces_the_restricted_pod_security_standard():
    labels = OBJECTS[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_objects_are_applied_after_what_they_reference():
    # kubectl applies in file order; a pod may wait for a ConfigMap, but nothing should have to.
    order = {(obj["kind"], obj["metadata"]["name"]): index for index, obj in enumerate(OBJECTS)}
    for workload in k8s.workloads(OBJECTS):
        spec = k8s.pod_spec(workload)
        needed = [("ConfigMap", volume["configMap"]["name"]) for volume in spec.get("volumes", [])
                  if "configMap" in volume]
        for container in k8s.containers(workload):
            for item in container.get("env", []):
                for ref_kind, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if ref_kind in item.get("valueFrom", {}):
                        needed.append((kind, item["valueFrom"][ref_kind]["name"]))
        here = order[(workload["kind"], workload["metadata"]["name"])]
        assert all(order[reference] < here for reference in needed), (k8s.name_of(workload), needed)


def test_the_database_secret_holds_placeholders_only():
    secret = k8s.of_kind(OBJECTS, "Secret")["postgres-credentials"]
    assert set(secret["stringData"]) == {"POSTGRES_USER", "POSTGRES_PASSWORD"}
    assert secret["stringData"]["POSTGRES_PASSWORD"] == "REPLACE-WITH-A-RANDOM-PASSWORD"


def test_the_pull_secret_is_a_placeholder_outside_the_applied_set_with_the_command_that_creates_it():
    text = PULL_SECRET_FILE.read_text(encoding="utf-8")
    (secret,) = k8s.documents(text)
    assert (secret["kind"], secret["type"]) == ("Secret", "kubernetes.io/dockerconfigjson")
    assert "auths" in json.loads(secret["stringData"][".dockerconfigjson"])
    assert "YOUR_TOKEN" in secret["stringData"][".dockerconfigjson"]
    # Re-applying the directory must never overwrite the real secret with this placeholder.
    assert PULL_SECRET_FILE not in k8s.applied_files()
    command = " ".join(line.lstrip("# ").rstrip("\\ ") for line in text.splitlines()
                       if "kubectl" in line or line.startswith("#     --"))
    assert re.search(r"kubectl -n cinemaabyss create secret docker-registry ghcr-pull-secret "
                     r"--docker-server=ghcr\.io --docker-username=\S+ --docker-password=\S+", command), command
    assert {name: k8s.pod_spec(deployment).get("imagePullSecrets") for name, deployment in DEPLOYMENTS.items()} == {
        name: [{"name": "ghcr-pull-secret"}] for name in DEPLOYMENTS}


def test_the_owner_is_one_placeholder_in_every_service_image():
    images = [container["image"] for deployment in DEPLOYMENTS.values() for container in k8s.containers(deployment)]
    assert images and all(image.startswith(f"ghcr.io/{OWNER_PLACEHOLDER}/cinemaabyss/") for image in images)
    text = "".join(path.read_text(encoding="utf-8") for path in k8s.applied_files())
    assert text.count("ghcr.io/") == text.count(f"ghcr.io/{OWNER_PLACEHOLDER}/") == len(images)


def test_the_embedded_schema_is_db_schema_sql():
    assert sync_schema.stale_copies() == []
    (configmap,) = k8s.documents(sync_schema.MANIFEST.read_text(encoding="utf-8"))
    assert configmap["data"]["schema.sql"] == sync_schema.SCHEMA.read_text(encoding="utf-8")
    assert sync_schema.main(["--check"]) == 0


@pytest.mark.parametrize("schema", ["SELECT 1;\n", "SELECT 1;", "SELECT 1;\n\n\n", "  -- indented\nSELECT 1;\n",
                                    "-- a\n\n\tSELECT 1;  \n"])
def test_the_generated_manifest_keeps_the_schema_byte_for_byte(schema):
    (configmap,) = k8s.documents(sync_schema.schema_manifest(schema))
    assert configmap["data"]["schema.sql"] == schema


def test_a_stale_copy_is_reported(tmp_path, monkeypatch, capsys):
    changed = tmp_path / "schema.sql"
    changed.write_text(sync_schema.SCHEMA.read_text(encoding="utf-8") + "-- one more line\n", encoding="utf-8")
    monkeypatch.setattr(sync_schema, "SCHEMA", changed)
    assert sync_schema.stale_copies() == [sync_schema.MANIFEST, sync_schema.CHART_COPY]
    assert sync_schema.main(["--check"]) == 1
    assert "kubernetes/20-postgres-schema.yaml differs from db/schema.sql" in capsys.readouterr().err


def test_postgres_runs_the_schema_from_its_init_directory():
    postgres = k8s.of_kind(OBJECTS, "StatefulSet")["postgres"]
    (container,) = k8s.containers(postgres)
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in k8s.pod_spec(postgres)["volumes"]}
    assert volumes[mounts["/docker-entrypoint-initdb.d"]]["configMap"]["name"] == "postgres-schema"
    assert "subPath" not in yaml.safe_dump(container["volumeMounts"])
