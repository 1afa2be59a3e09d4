"""The Kubernetes objects under test: the plain manifests as kubectl reads them, the chart as Helm renders it.

Nothing here talks to a cluster. The chart is rendered by Helm's own Go code through
helm-python-sdk, and every object is checked against the Kubernetes 1.30 OpenAPI schemas
that kubernetes-validate ships (strict: an unknown field is an error).
"""

from __future__ import annotations

import base64
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "kubernetes"
CHART = ROOT / "helm" / "cinemaabyss"
KUBERNETES_VERSION = "1.30.0"
NAMESPACE = "cinemaabyss"
RELEASE = "cinemaabyss"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "Pod")
# The file extensions `kubectl apply -f DIR` reads; it does not descend into folders without -R.
KUBECTL_EXTENSIONS = (".json", ".yaml", ".yml")
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

Object = dict[str, Any]


def sync_schema_module() -> ModuleType:
    """Import kubernetes/sync_schema.py by path (the folder is no package, and ``kubernetes`` is a PyPI name)."""
    spec = importlib.util.spec_from_file_location("cinemaabyss_sync_schema", MANIFESTS / "sync_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documents(text: str) -> list[Object]:
    """Return the objects of a multi-document YAML text, skipping empty documents as kubectl does."""
    return [document for document in yaml.safe_load_all(text) if document is not None]


def applied_files() -> list[Path]:
    """Return the files `kubectl apply -f kubernetes/` reads, in the order it applies them."""
    return sorted(path for path in MANIFESTS.iterdir() if path.is_file() and path.suffix in KUBECTL_EXTENSIONS)


def every_manifest_file() -> list[Path]:
    """Return every manifest under kubernetes/, the ones kept out of the applied set included."""
    return sorted(path for path in MANIFESTS.rglob("*") if path.is_file() and path.suffix in KUBECTL_EXTENSIONS)


def plain_objects() -> list[Object]:
    """Return the objects `kubectl apply -f kubernetes/` creates, in order."""
    return [obj for path in applied_files() for obj in documents(path.read_text(encoding="utf-8"))]


def render(values: dict[str, Any] | None = None, *, release: str = RELEASE,
           namespace: str = NAMESPACE) -> dict[str, list[Object]]:
    """Render the chart as `helm install` would, offline; return the objects of each template file.

    :raises helm_python.HelmError: when a template fails (for example a ``required`` value).
    """
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    return {path: documents(text) for path, text in rendered.items() if not path.endswith("NOTES.txt")}


def rendered_objects(values: dict[str, Any] | None = None, **options: str) -> list[Object]:
    """Return every object the chart renders with ``values``."""
    return [obj for objects in render(values, **options).values() for obj in objects]


def notes(values: dict[str, Any] | None = None) -> str:
    """Return the chart's rendered NOTES.txt."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))


def schema_error(obj: Object) -> str | None:
    """Return why ``obj`` fails the Kubernetes 1.30 schema in strict mode, or None when it passes."""
    try:
        checked = kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{'.'.join(map(str, error.path))}: {error.message}"
    except SchemaNotFoundError as error:
        return error.message
    assert checked == "1.30", f"validated against {checked}, not 1.30"
    return None


def name_of(obj: Object) -> str:
    """Return ``Kind/name`` of an object."""
    return f"{obj['kind']}/{obj['metadata']['name']}"


def of_kind(objects: Iterable[Object], kind: str) -> dict[str, Object]:
    """Return the objects of one kind by name."""
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def workloads(objects: Iterable[Object]) -> list[Object]:
    """Return the objects that run pods."""
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: Object) -> Object:
    """Return the pod spec of a Deployment, StatefulSet, Job or Pod."""
    return workload["spec"] if workload["kind"] == "Pod" else workload["spec"]["template"]["spec"]


def containers(workload: Object) -> list[Object]:
    """Return a workload's containers, init containers included."""
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def component(obj: Object) -> str:
    """Return an object's ``app.kubernetes.io/component`` label."""
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


def secret_value(secret: Object, key: str) -> str:
    """Return one key of a Secret, from ``stringData`` or decoded from ``data``."""
    if key in secret.get("stringData", {}):
        return secret["stringData"][key]
    return base64.b64decode(secret["data"][key]).decode()


def container_env(container: Object, objects: list[Object]) -> dict[str, str]:
    """Return the environment the kubelet would give ``container``: literals, ConfigMap and Secret keys.

    ``$(NAME)`` references to variables defined earlier are expanded, as the kubelet does.
    """
    assert "envFrom" not in container, "envFrom hides which variables a container gets"
    configmaps, secrets = of_kind(objects, "ConfigMap"), of_kind(objects, "Secret")
    env: dict[str, str] = {}
    for item in container.get("env", []):
        source = item.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[item["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[item["name"]] = secret_value(secrets[ref["name"]], ref["key"])
        else:
            env[item["name"]] = _REFERENCE.sub(lambda match: env.get(match[1], match[0]), str(item["value"]))
    return env


def mounted_file(workload: Object, container: Object, path: str, objects: list[Object]) -> str:
    """Return the text of the ConfigMap file a container sees at ``path``.

    Only a whole-directory mount counts: a ``subPath`` mount is never updated by the kubelet.
    """
    directory, _, filename = path.rpartition("/")
    mounts = [mount for mount in container.get("volumeMounts", []) if mount["mountPath"].rstrip("/") == directory]
    assert mounts, f"nothing is mounted at {directory}"
    assert "subPath" not in mounts[0], f"{directory} is a subPath mount, which the kubelet never updates"
    volume = next(volume for volume in pod_spec(workload)["volumes"] if volume["name"] == mounts[0]["name"])
    source = volume["configMap"]
    files = {item["path"]: item["key"] for item in source["items"]} if "items" in source else None
    key = files[filename] if files is not None else filename
    return of_kind(objects, "ConfigMap")[source["name"]]["data"][key]
