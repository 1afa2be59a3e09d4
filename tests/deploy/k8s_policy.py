"""What every pod must look like, as a Kubernetes operator would check it by reading the manifests.

The rules are the Pod Security Standard "restricted" (which the namespace enforces) plus the
project's own: resource requests and limits, a read-only root filesystem wherever the image
allows it, probes on every long-running container, and image names that say where they come from.
"""

from __future__ import annotations

import re

from tests.deploy.k8s_support import Object, component, containers, pod_spec

# Volume types the "restricted" standard allows.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
# Kafka's image writes its generated configuration next to files it ships (see 30-kafka.yaml).
WRITABLE_ROOT = {"kafka"}
OUR_SERVICES = ("monolith", "movies-service", "events-service", "proxy-service")
OWNER_PLACEHOLDER = "your-github-owner"
OUR_IMAGE = re.compile(rf"^ghcr\.io/{OWNER_PLACEHOLDER}/cinemaabyss/(?P<service>[a-z-]+):(?P<tag>[\w.-]+)$")
# A third-party image is pinned to a release: a tag with a version number, never `latest`.
PINNED = re.compile(r"^[\w./-]+:(?!latest$)[\w.-]*\d+\.\d+[\w.-]*$")


def security_problems(workload: Object) -> list[str]:
    """Return how a workload's pods break the restricted standard or the project's hardening rules."""
    spec = pod_spec(workload)
    pod_context = spec.get("securityContext", {})
    problems = [f"pod sets {key}" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("the service account token is mounted")
    if pod_context.get("runAsNonRoot") is not True:
        problems.append("pod runAsNonRoot is not true")
    if pod_context.get("runAsUser", 1) == 0:
        problems.append("pod runs as UID 0")
    problems += [f"volume {volume['name']} is not an allowed type" for volume in spec.get("volumes", [])
                 if not set(volume) - {"name"} <= RESTRICTED_VOLUMES]
    for container in containers(workload):
        problems += [f"{container['name']}: {problem}" for problem in _container_problems(workload, container)]
    return problems


def _container_problems(workload: Object, container: Object) -> list[str]:
    context = container.get("securityContext", {})
    seccomp = context.get("seccompProfile") or pod_spec(workload).get("securityContext", {}).get("seccompProfile")
    problems = []
    if (seccomp or {}).get("type") != "RuntimeDefault":
        problems.append("seccomp profile is not RuntimeDefault")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if context.get("privileged"):
        problems.append("privileged")
    if context.get("capabilities", {}).get("drop") != ["ALL"] or context.get("capabilities", {}).get("add"):
        problems.append("capabilities are not exactly `drop: [ALL]`")
    if context.get("runAsUser", 1) == 0:
        problems.append("runs as UID 0")
    if context.get("readOnlyRootFilesystem") is not (component(workload) not in WRITABLE_ROOT):
        problems.append(f"readOnlyRootFilesystem is {context.get('readOnlyRootFilesystem')}")
    if any(port.get("hostPort") for port in container.get("ports", [])):
        problems.append("uses a hostPort")
    resources = container.get("resources", {})
    problems += [f"no {kind}.{resource}" for kind in ("requests", "limits") for resource in ("cpu", "memory")
                 if resource not in resources.get(kind, {})]
    if workload["kind"] in ("Deployment", "StatefulSet"):
        problems += [f"no {probe}" for probe in ("readinessProbe", "livenessProbe") if probe not in container]
    return problems


def image_problem(workload: Object, container: Object) -> str | None:
    """Return what is wrong with a container's image name, or None."""
    image, name = container["image"], component(workload)
    ours = OUR_IMAGE.match(image)
    if name in OUR_SERVICES and not (ours and ours["service"] == name):
        return f"{image} is not ghcr.io/{OWNER_PLACEHOLDER}/cinemaabyss/{name}:<tag>"
    if ours:
        # Other pods may reuse a service image (the `helm test` pod runs the gateway's).
        return None if ours["service"] in OUR_SERVICES else f"{image} names no CinemaAbyss service"
    return None if PINNED.match(image) else f"{image} is not a pinned third-party image"
