"""A stand-in for a container: an image's final stage laid out on the host and its command run there."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tests.deploy import docker_support as docker


@dataclass
class ImageLayout:
    """Where the image's paths live on the host, and the environment and command of its final stage."""

    root: Path
    workdir: Path
    venv: Path
    env: dict[str, str]
    command: list[str]
    healthcheck: list[str]
    healthcheck_timeout: float

    def host_path(self, image_path: str) -> str:
        """Return where an absolute image path lives on the host."""
        return str(self.root / image_path.lstrip("/"))


def lay_out(dockerfile: Path, root: Path, venv_cache: Path) -> ImageLayout:
    """Reproduce the final stage of ``dockerfile`` under ``root``: its COPYs, venv, ENV, WORKDIR and commands."""
    stages = docker.parse(dockerfile)
    final, by_name = stages[-1], {stage.name: stage for stage in stages if stage.name}
    workdir = PurePosixPath("/")
    venv_image_path, venv = None, None
    for instruction in final.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = workdir / instruction.arguments
        elif instruction.keyword == "COPY" and "from" in instruction.flags:
            requirements, built = docker.installed_requirements(by_name[instruction.flags["from"]])
            source, destination = instruction.arguments.split()
            assert PurePosixPath(source) == built, f"only the build stage's venv is copied across, not {source}"
            venv_image_path, venv = PurePosixPath(destination), docker.clean_venv(requirements, venv_cache)
        elif instruction.keyword == "COPY":
            *sources, destination = instruction.arguments.split()
            target = root / str(workdir / destination).lstrip("/")
            for source in sources:
                assert docker.copy_from_context(source, target) > 0, f"COPY {source} copies nothing"
    assert venv is not None, f"{dockerfile} copies no virtual environment from its build stage"
    # A container has a /tmp of its own (a tmpfs in docker-compose.yml).
    (root / "tmp").mkdir(exist_ok=True)
    mapping = {str(venv_image_path): str(venv), "/tmp": str(root / "tmp")}

    def on_host(value: str) -> str:
        # Image paths inside PATH-like values point at the venv or at the laid-out tree.
        parts = value.split(":")
        for index, part in enumerate(parts):
            for image_path, host_path in mapping.items():
                if part == image_path or part.startswith(image_path + "/"):
                    parts[index] = host_path + part[len(image_path):]
        return ":".join(parts)

    env = {name: on_host(value) for name, value in docker.environment(final).items()}
    env.setdefault("TMPDIR", on_host("/tmp"))
    options, check = docker.healthcheck(final)
    timeout = float(options.get("timeout", "30s").removesuffix("s"))
    return ImageLayout(root, root / str(workdir).lstrip("/"), venv, env, docker.command(final), check, timeout)


class StandIn:
    """A service's image command running on the host, with its output kept in files."""

    def __init__(self, name: str, layout: ImageLayout, env: dict[str, str], logs: Path) -> None:
        self.name, self.layout, self.env = name, layout, env
        self.stdout, self.stderr = logs / f"{name}.out", logs / f"{name}.err"
        self.executable = shutil.which(layout.command[0], path=env["PATH"])
        assert self.executable, f"{layout.command[0]} is not on the image's PATH"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen([self.executable, *layout.command[1:]], cwd=layout.workdir, env=env,
                                            stdout=out, stderr=err, start_new_session=True)

    def logs(self) -> str:
        """Return what the process wrote so far, for failure messages."""
        return f"--- {self.name} stdout\n{self.stdout.read_text()}\n--- {self.name} stderr\n{self.stderr.read_text()}"

    def check(self, argv: list[str], timeout: float, **overrides: str) -> subprocess.CompletedProcess:
        """Run a health-check command the way Docker runs it inside the container."""
        return subprocess.run(argv, check=False, cwd=self.layout.workdir, env={**self.env, **overrides},
                              capture_output=True, text=True, timeout=timeout + 5)

    def wait_until(self, argv: list[str], timeout: float, within: float = 60) -> None:
        """Return once ``argv`` exits 0.

        :raises AssertionError: if the process ends, or ``within`` seconds pass first.
        """
        deadline = time.monotonic() + within
        while True:
            assert self.process.poll() is None, f"{self.name} exited with {self.process.returncode}\n{self.logs()}"
            result = self.check(argv, timeout)
            if result.returncode == 0:
                return
            assert time.monotonic() < deadline, f"{self.name} unhealthy after {within:g}s: {result.stderr}{self.logs()}"
            time.sleep(0.2)

    def terminate(self, grace: float = 30) -> int:
        """Send SIGTERM, as ``docker stop`` does, and return the exit status (killing after ``grace``)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode
