"""Reading a Dockerfile the way the builder does, and standing in for its image without Docker.

There is no Docker engine on the test machine, so the final stage of each Dockerfile is
reproduced on the host instead: its ``COPY`` instructions fill a directory that plays the
image's filesystem (filtered through ``.dockerignore``), its virtual environment is built
from the requirements file its build stage installs, and its ``ENV``, ``WORKDIR``,
``HEALTHCHECK`` and ``CMD`` are used as written.
"""

from __future__ import annotations

import fcntl
import fnmatch
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
# hadolint, check-jsonschema and zizmor come from the root requirements, beside pytest.
TOOLS = Path(sys.executable).parent
# PATH of the official python images, which ``ENV PATH=...:$PATH`` extends.
BASE_IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


@dataclass(frozen=True)
class Instruction:
    """One instruction: keyword, ``--flag=value`` options and the rest of the line."""

    keyword: str
    flags: dict[str, str]
    arguments: str

    def exec_form(self) -> list[str]:
        """Return the JSON (exec) form of the arguments; a shell-form line is an AssertionError."""
        assert self.arguments.startswith("["), f"{self.keyword} is not in exec form: {self.arguments}"
        return json.loads(self.arguments)


@dataclass
class Stage:
    """A ``FROM`` and the instructions that follow it."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """Return the instructions with this keyword, in order."""
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        """Return the instruction with this keyword that takes effect (the last one), if any."""
        found = self.all(keyword)
        return found[-1] if found else None


def expand(text: str, variables: dict[str, str]) -> str:
    """Substitute ``$NAME``, ``${NAME}`` and ``${NAME:-default}`` as the builder does."""
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        return variables.get(name) or (match.group(2) or "")
    return _VARIABLE.sub(value, text)


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue  # comments, directives and blank lines, also inside a continued line
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return lines


def _split_flags(rest: str) -> tuple[dict[str, str], str]:
    flags = {}
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        name, _, value = word[2:].partition("=")
        flags[name] = value
        rest = rest.lstrip()
    return flags, rest


def parse(path: Path) -> list[Stage]:
    """Return the stages of the Dockerfile at ``path``, with global ``ARG`` defaults applied to ``FROM``."""
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            flags, rest = _split_flags(rest)
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(expand(words[0], global_args), name))
        else:
            assert stages, f"{keyword} before the first FROM in {path}"
            flags, rest = _split_flags(rest) if keyword in ("COPY", "ADD", "RUN", "HEALTHCHECK") else ({}, rest)
            stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return stages


def environment(stage: Stage) -> dict[str, str]:
    """Return the variables the stage's ``ENV`` lines set, ``$PATH`` taken from the base image."""
    env = {"PATH": BASE_IMAGE_PATH}
    for instruction in stage.all("ENV"):
        for pair in shlex.split(instruction.arguments):
            name, _, value = pair.partition("=")
            env[name] = expand(value, env)
    return env


def command(stage: Stage) -> list[str]:
    """Return what the container runs: ``ENTRYPOINT`` then ``CMD``, both in exec form."""
    entrypoint, cmd = stage.last("ENTRYPOINT"), stage.last("CMD")
    assert cmd or entrypoint, "the image has no command"
    return (entrypoint.exec_form() if entrypoint else []) + (cmd.exec_form() if cmd else [])


def healthcheck(stage: Stage) -> tuple[dict[str, str], list[str]]:
    """Return the ``HEALTHCHECK`` options and the command it runs (after ``CMD``)."""
    instruction = stage.last("HEALTHCHECK")
    assert instruction is not None, "the image has no HEALTHCHECK"
    keyword, _, arguments = instruction.arguments.partition(" ")
    assert keyword.upper() == "CMD", f"HEALTHCHECK must run a command: {instruction.arguments}"
    return instruction.flags, json.loads(arguments)


def installed_requirements(build: Stage) -> tuple[Path, PurePosixPath]:
    """Return the requirements file a build stage installs and the virtual environment it fills.

    Both are read from the stage: the ``COPY`` of a requirements file, the ``python -m venv``
    that creates the environment, and the ``pip install --requirement`` of the copied file.
    """
    copies = {PurePosixPath(words[-1]): words[0] for words in
              (shlex.split(copy.arguments) for copy in build.all("COPY")) if words[0].endswith("requirements.txt")}
    venvs, installed = [], []
    for run in build.all("RUN"):
        words = shlex.split(run.arguments)
        if words[1:3] == ["-m", "venv"]:
            venvs.append(PurePosixPath(words[3]))
        if "install" in words and words[0].endswith("/pip"):
            venvs_pip = PurePosixPath(words[0]).parent.parent
            for flag in ("--requirement", "-r"):
                if flag in words:
                    installed.append((venvs_pip, PurePosixPath(words[words.index(flag) + 1])))
    assert len(venvs) == 1 and len(installed) == 1, f"expected one venv and one pip install in {build.name}"
    venv, requirements = installed[0]
    assert venv == venvs[0], f"pip installs into {venv}, but the venv is {venvs[0]}"
    assert requirements in copies, f"{requirements} is not copied into the build stage"
    return ROOT / copies[requirements], venv


def clean_venv(requirements: Path, cache: Path) -> Path:
    """Return a virtual environment holding only ``requirements``, built once per content and Python."""
    key = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:16]
    target = cache / f"{requirements.parent.name}-{key}"
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            # Venvs of earlier versions of the same file are of no further use.
            for stale in cache.glob(f"{requirements.parent.name}-*"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
            install = subprocess.run(
                [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--requirement", str(requirements)], check=False, capture_output=True, text=True, timeout=600)
            assert install.returncode == 0, f"pip install -r {requirements} failed:\n{install.stderr}"
            (target / ".complete").write_text(str(requirements) + "\n")
    return target


def _dockerignore() -> list[str]:
    path = ROOT / ".dockerignore"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _pattern_matches(pattern: str, path: str) -> bool:
    # A pattern that matches a directory matches everything below it; "**/" is any depth.
    parts = path.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    if pattern.startswith("**/"):
        rest = pattern[3:]
        return any(fnmatch.fnmatchcase(prefix, rest) or fnmatch.fnmatchcase(prefix, f"*/{rest}") for prefix in prefixes)
    return any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes)


def ignored(relative: str) -> bool:
    """Tell whether ``.dockerignore`` keeps ``relative`` (a path from the root) out of the build context."""
    excluded = False
    for pattern in _dockerignore():
        negated = pattern.startswith("!")
        if _pattern_matches(pattern.lstrip("!").rstrip("/"), relative):
            excluded = not negated
    return excluded


def copy_from_context(source: str, destination: Path) -> int:
    """Copy ``source`` from the build context as ``COPY`` would; return the number of files copied."""
    origin = ROOT / source
    files = [origin] if origin.is_file() else sorted(path for path in origin.rglob("*") if path.is_file())
    copied = 0
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if ignored(relative):
            continue
        target = destination / path.relative_to(origin) if origin.is_dir() else destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied += 1
    return copied
