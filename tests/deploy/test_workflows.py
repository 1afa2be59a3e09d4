"""The GitHub Actions workflows: valid, least-privileged, pinned, and running only commands this repository defines."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy import compose_support as compose
from tests.deploy.docker_support import ROOT, TOOLS

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")


def _load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _steps(workflow: dict) -> list[tuple[str, dict]]:
    return [(name, step) for name, job in workflow["jobs"].items() for step in job.get("steps", [])]


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {match.group(1) for match in re.finditer(r"^([a-z][\w-]*):(?!=)", text, re.MULTILINE)}


def _validate(path: Path) -> subprocess.CompletedProcess:
    command = [str(TOOLS / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)


def _zizmor(*paths: Path) -> list[dict]:
    # --offline: no GitHub API; the audits that need it (e.g. impostor commits) are skipped.
    command = [str(TOOLS / "zizmor"), "--offline", "--format", "json", *map(str, paths)]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def test_the_three_workflows_exist():
    assert [path.name for path in WORKFLOWS] == ["api-tests.yml", "ci.yml", "docker-build-push.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_the_github_workflow_schema(path):
    result = _validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "ci.yml"
    broken.write_text((ROOT / ".github/workflows/ci.yml").read_text().replace("runs-on:", "run-on:"))
    assert _validate(broken).returncode != 0


def test_zizmor_reports_no_finding_of_medium_or_high_severity():
    findings = [(finding["ident"], finding["determinations"]["severity"]) for finding in _zizmor(*WORKFLOWS)]
    assert [finding for finding in findings if finding[1] in ("Medium", "High")] == []


def test_zizmor_does_flag_an_unsafe_workflow(tmp_path):
    unsafe = tmp_path / "unsafe.yml"
    unsafe.write_text(
        "on: pull_request_target\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n')
    assert "template-injection" in {finding["ident"] for finding in _zizmor(unsafe)}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_permissions_are_granted_per_job_only(path):
    workflow = _load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert isinstance(job["permissions"], dict), f"{name} has no explicit permissions"
        assert job["permissions"].get("contents") == "read"
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert writes == ({"packages"} if name == "image" else set()), f"{name} writes {writes}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_superseded_runs_are_cancelled(path):
    concurrency = _load(path)["concurrency"]
    assert concurrency["cancel-in-progress"] is True
    assert "github.ref" in concurrency["group"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_actions_are_pinned_to_a_commit_with_its_version(path):
    lines = [line for line in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert lines
    for line in lines:
        assert PINNED.match(line) or "uses: ./.github/workflows/" in line, f"not pinned: {line.strip()}"
    for _, step in _steps(_load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_command_is_a_make_target_or_an_npm_script(path):
    targets = _makefile_targets()
    for _, step in _steps(_load(path)):
        folder = ROOT / step.get("working-directory", ".")
        for line in filter(None, (line.strip() for line in step.get("run", "").splitlines())):
            words = shlex.split(line)
            if words[0] == "make":
                assert set(words[1:]) <= targets, f"{line}: no such Makefile target"
            elif words[:2] == ["npm", "ci"]:
                assert (folder / "package-lock.json").is_file(), f"{line}: no package-lock.json in {folder}"
            elif words[:2] == ["npm", "run"]:
                scripts = json.loads((folder / "package.json").read_text())["scripts"]
                assert words[2] in scripts, f"{line}: no such script in {folder}/package.json"
            else:
                raise AssertionError(f"{path.name} runs {line!r}, which is neither a make target nor an npm script")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_no_secret_reaches_a_shell(path):
    for _, step in _steps(_load(path)):
        assert "secrets." not in step.get("run", "") and "secrets." not in json.dumps(step.get("env", {}))


def test_ci_runs_the_readme_command_on_every_push_and_pull_request():
    workflow = _load(ROOT / ".github/workflows/ci.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(workflow["on"])
    assert workflow["jobs"]["test"]["runs-on"] == "ubuntu-latest"
    runs = [step["run"] for _, step in _steps(workflow) if "run" in step]
    assert runs == ["make ci-packages", "make test"]
    assert "```sh\nmake test\n```" in (ROOT / "README.md").read_text()
    python = next(step for _, step in _steps(workflow) if step.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["cache"] == "pip"


def test_ci_installs_every_system_package_that_ci_run_would_need_on_ubuntu():
    # The runner image already has make, Python's venv, Node.js and Chromium; .ci/run adds the rest.
    preinstalled = {"make", "python3-venv", "nodejs", "npm", "chromium"}
    needed = set(re.findall(r"need_apt\+=\(([^)]*)\)", (ROOT / ".ci/run").read_text()))
    packages = {package for group in needed for package in group.split()} - preinstalled
    listed = re.search(r"^CI_PACKAGES := (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1).split()
    assert packages == set(listed)


def test_images_are_built_after_the_tests_for_every_compose_service():
    workflow = _load(ROOT / ".github/workflows/docker-build-push.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["on"]["release"]["types"] == ["published"]
    assert "workflow_dispatch" in workflow["on"]
    assert workflow["jobs"]["tests"]["uses"] == "./.github/workflows/ci.yml"
    image = workflow["jobs"]["image"]
    assert image["needs"] == "tests"
    built = compose.built_services(compose.load())
    matrix = {entry["service"]: entry["dockerfile"] for entry in image["strategy"]["matrix"]["include"]}
    assert matrix == {name: service["build"]["dockerfile"] for name, service in built.items()}
    watched = set(workflow["on"]["push"]["paths"])
    assert {f"{Path(dockerfile).parent}/**" for dockerfile in matrix.values()} | {"cinema_common/**"} <= watched
    steps = {step["uses"].split("@")[0]: step.get("with", {}) for _, step in _steps(workflow) if "uses" in step}
    assert steps["docker/metadata-action"]["images"] == "ghcr.io/${{ github.repository }}/${{ matrix.service }}"
    tags = steps["docker/metadata-action"]["tags"]
    for kind in ("type=semver", "type=sha", "type=ref,event=branch", "type=raw,value=latest"):
        assert kind in tags
    build = steps["docker/build-push-action"]
    assert (build["context"], build["file"], build["push"]) == (".", "${{ matrix.dockerfile }}", True)
    assert build["cache-from"].startswith("type=gha") and build["cache-to"].startswith("type=gha")
    assert "docker/setup-buildx-action" in steps


def test_api_tests_start_compose_run_newman_dump_logs_and_always_tear_down():
    steps = [step for _, step in _steps(_load(ROOT / ".github/workflows/api-tests.yml")) if "run" in step]
    runs = [(step["run"], step.get("if")) for step in steps]
    assert runs == [("make compose-up", None), ("npm ci", None), ("npm run test:docker", None),
                    ("make compose-logs", "failure()"), ("make compose-down", "always()")]
    makefile = (ROOT / "Makefile").read_text()
    assert "docker compose up --detach --build --wait" in makefile
    assert "docker compose down --volumes" in makefile
