"""The Dockerfiles: hadolint finds nothing, and each image follows the house rules and the local stack."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tests.deploy import docker_support as docker
from tests.deploy.docker_support import ROOT

SERVICE_PACKAGES = sorted(path.parent.name for path in ROOT.glob("*/gunicorn_conf.py"))
DOCKERFILES = sorted(ROOT.glob("*/Dockerfile"))
HADOLINT = docker.TOOLS / "hadolint"


def _hadolint(path: Path) -> subprocess.CompletedProcess:
    # Every level down to "style" fails, and inline "hadolint ignore" comments are not obeyed.
    command = [str(HADOLINT), "--no-color", "--failure-threshold", "style", "--disable-ignore-pragma", str(path)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_every_service_has_a_dockerfile():
    assert SERVICE_PACKAGES, "no service package found"
    assert [path.parent.name for path in DOCKERFILES] == SERVICE_PACKAGES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_hadolint_reports_nothing(dockerfile):
    result = _hadolint(dockerfile)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_report_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\nCMD gunicorn app:app\n")
    result = _hadolint(bad)
    assert result.returncode != 0
    assert {"DL3006", "DL3013", "DL3025"} <= set(result.stdout.replace(" ", "\n").splitlines())


def _procfile_command(package: str) -> list[str]:
    """The command the local stack runs for ``package``, after ``exec``."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        words = shlex.split(line.partition(":")[2]) if not line.startswith("#") else []
        if "exec" in words and f"python:{package}.gunicorn_conf" in words:
            return words[words.index("exec") + 1:]
    raise AssertionError(f"no Procfile line runs {package}")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_image_follows_the_house_rules(dockerfile):
    text = dockerfile.read_text()
    stages = docker.parse(dockerfile)
    final = stages[-1]
    env = docker.environment(final)
    assert "ARG PYTHON_VERSION=" in text
    assert all(stage.base.startswith("python:") and "-slim" in stage.base for stage in stages)
    assert env["PYTHONUNBUFFERED"] == "1"
    user = final.last("USER")
    assert user is not None and user.arguments.split(":")[0] == "10001"
    assert final.instructions.index(user) > max(final.instructions.index(run) for run in final.all("RUN"))
    exposed = [int(port) for expose in final.all("EXPOSE") for port in expose.arguments.split()]
    # The gateway also exposes its admin port (ADMIN_PORT); every other image one port.
    assert exposed == [int(env[name]) for name in ("PORT", "ADMIN_PORT") if name in env]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_image_runs_what_the_local_stack_runs(dockerfile):
    package = dockerfile.parent.name
    assert docker.command(docker.parse(dockerfile)[-1]) == _procfile_command(package)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_image_installs_the_service_requirements_pinned(dockerfile):
    build = next(stage for stage in docker.parse(dockerfile) if stage.name == "build")
    requirements, venv = docker.installed_requirements(build)
    assert requirements == dockerfile.parent / "requirements.txt"
    final = docker.parse(dockerfile)[-1]
    copied = [(copy.flags.get("from"), copy.arguments.split()) for copy in final.all("COPY")]
    assert ("build", [str(venv), str(venv)]) in copied
    assert docker.environment(final)["PATH"].startswith(f"{venv}/bin:")
    for line in requirements.read_text().splitlines():
        requirement = line.split("#")[0].strip()
        assert not requirement or "==" in requirement, f"not pinned: {line}"
