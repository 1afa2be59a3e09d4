"""The local stack under supervisor: a supervisord configuration made from the Procfile.

The ``Procfile`` stays the one list of the stack's processes (``name: shell command``);
this module turns it into ``$VAR_DIR/supervisord.conf`` and drives supervisord:

- ``python -m devstack.supervisor run``: supervisord in the foreground (``make run``);
  Ctrl-C stops every process and exits 0;
- ``python -m devstack.supervisor up``: supervisord in the background, returning once
  every health endpoint answers (``make up``); a second ``up`` changes nothing;
- ``python -m devstack.supervisor down``: stop all of it and check that no port of the
  stack is still open (``make down``); the exit status says whether that worked;
- ``python -m devstack.supervisor ctl ARGS``: ``supervisorctl`` against this stack
  (``make ctl ARGS='stop movies'``).

A service that needs PostgreSQL or the broker is started only once that accepts TCP
connections, so its pool never logs a refused connection while PostgreSQL boots.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack import wait

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"
# The environment variable of every port the stack listens on, with its default.
PORTS = {
    "postgres": ("POSTGRES_PORT", 5432),
    "kafka": ("KAFKA_PORT", 9092),
    "monolith": ("MONOLITH_PORT", 8080),
    "movies": ("MOVIES_PORT", 8081),
    "events": ("EVENTS_PORT", 8082),
    "proxy": ("PROXY_PORT", 8000),
    "proxy admin": ("ADMIN_PORT", 9000),
}
# What each service needs to accept connections before it starts.
NEEDS = {"monolith": ("postgres",), "movies": ("postgres",), "events": ("kafka",)}
# Start order (lower first); supervisord stops in the reverse order, the gateway first.
PRIORITY = {"postgres": 10, "kafka": 10, "proxy": 30}
# The health endpoint of every service; `up` returns once each answers 200.
HEALTH = {
    "monolith": "/health",
    "movies": "/api/movies/health",
    "events": "/api/events/ready",
    "proxy": "/health",
}
# Longest wait for a dependency before a service gives up (supervisord then shows it FATAL).
DEPENDENCY_TIMEOUT_SECONDS = 120
UP_TIMEOUT_SECONDS = 120
DOWN_TIMEOUT_SECONDS = 90


@dataclass(frozen=True)
class Stack:
    """One local stack: where it keeps its files, its processes, the ports they listen on."""

    var_dir: Path
    ports: dict[str, int]
    procfile: Path = PROCFILE
    needs: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(NEEDS))
    health: dict[str, str] = field(default_factory=lambda: dict(HEALTH))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Stack:
        """Read ``VAR_DIR`` and the port variables (the Makefile exports them)."""
        environ = os.environ if environ is None else environ
        ports = {name: int(environ.get(variable, default)) for name, (variable, default) in PORTS.items()}
        return cls((ROOT / environ.get("VAR_DIR", "var")).resolve(), ports)

    @property
    def config(self) -> Path:
        """The supervisord configuration file."""
        return self.var_dir / "supervisord.conf"

    @property
    def pidfile(self) -> Path:
        """Where supervisord writes its process id."""
        return self.var_dir / "supervisord.pid"

    @property
    def log(self) -> Path:
        """The output of every process of a stack started by ``up``."""
        return self.var_dir / "stack.log"


def procfile_processes(path: Path = PROCFILE) -> dict[str, str]:
    """Return the Procfile's processes in order: name -> shell command."""
    processes = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


def program_command(name: str, command: str, stack: Stack) -> str:
    """Return the shell command supervisord runs for ``name``: wait for what it needs, then run it."""
    needs = [f"tcp://127.0.0.1:{stack.ports[need]}" for need in stack.needs.get(name, ())]
    if needs:
        command = (f"{shlex.quote(sys.executable)} -m devstack.wait --quiet --timeout {DEPENDENCY_TIMEOUT_SECONDS} "
                   f"{' '.join(needs)} && {command}")
    return f"/bin/sh -c {shlex.quote(command)}"


def render_config(stack: Stack, processes: dict[str, str], password: str) -> str:
    """Return the text of supervisord.conf for ``stack``."""
    var = str(stack.var_dir).replace("%", "%%")
    socket_path = f"{var}/supervisor.sock"
    sections = [
        "; Written by devstack/supervisor.py from the Procfile at every start; edit the Procfile instead.",
        f"[unix_http_server]\nfile={socket_path}\nchmod=0700\nusername=devstack\npassword={password}",
        # silent: supervisord's own log goes to its file only; the terminal or stack.log shows the services.
        f"[supervisord]\nnodaemon=true\nsilent=true\nlogfile={var}/supervisord.log\nlogfile_maxbytes=10MB\n"
        f"logfile_backups=1\npidfile={var}/supervisord.pid\ndirectory={ROOT}"
        # Without a user, supervisord running as root logs a CRIT line; naming root is the same thing.
        + ("\nuser=root" if os.geteuid() == 0 else ""),
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        f"[supervisorctl]\nserverurl=unix://{socket_path}\nusername=devstack\npassword={password}",
    ]
    for name, command in processes.items():
        sections.append("\n".join([
            f"[program:{name}]",
            f"command={program_command(name, command, stack).replace('%', '%%')}",
            f"directory={ROOT}",
            f"priority={PRIORITY.get(name, 20)}",
            # A crash stays visible in `make ctl` instead of being papered over by a restart.
            "autorestart=false",
            "startsecs=1",
            # PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for every client to leave).
            f"stopsignal={'INT' if name == 'postgres' else 'TERM'}",
            # gunicorn's graceful_timeout is 20 s; a process still alive after that is killed.
            "stopwaitsecs=25",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
        ]))
    return "\n\n".join(sections) + "\n"


def _tool(name: str) -> str:
    """Return the path of supervisor's command ``name`` beside this Python, as the venv installs it."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


def write_config(stack: Stack) -> Path:
    """Write a fresh supervisord.conf (with a new control password) and return its path."""
    stack.var_dir.mkdir(parents=True, exist_ok=True)
    text = render_config(stack, procfile_processes(stack.procfile), secrets.token_hex(16))
    descriptor = os.open(stack.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return stack.config


def supervisord_pid(stack: Stack) -> int | None:
    """Return the pid of this stack's running supervisord, or None."""
    try:
        pid = int(stack.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return None
    # A pid the kernel gave to something else since is not ours.
    if not any(part.endswith(b"supervisord") for part in cmdline[:2]) or str(stack.config).encode() not in cmdline:
        return None
    return pid


def listening(ports: dict[str, int]) -> dict[str, int]:
    """Return those of ``ports`` on which something accepts TCP connections on 127.0.0.1."""
    open_ports = {}
    for name, port in ports.items():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                open_ports[name] = port
        except OSError:
            pass
    return open_ports


def _describe(ports: dict[str, int]) -> str:
    return ", ".join(f"{port} ({name})" for name, port in ports.items())


def _refuse_busy_ports(stack: Stack) -> int | None:
    """Return an exit status when this stack runs already or its ports are taken, else None."""
    pid = supervisord_pid(stack)
    if pid is not None:
        print(f"already up: supervisord pid {pid}, {stack.var_dir}; nothing changed "
              f"('make ctl' shows the processes, 'make down' stops them)")
        return 0
    busy = listening(stack.ports)
    if busy:
        print(f"cannot start: ports already in use: {_describe(busy)}; stop what listens there, "
              f"or move the stack with POSTGRES_PORT, KAFKA_PORT, ... (see docs/operations.md)",
              file=sys.stderr)
        return 1
    return None


def run(stack: Stack) -> int:
    """Run the stack in the foreground until Ctrl-C (or SIGTERM); return 0 on a clean stop."""
    refused = _refuse_busy_ports(stack)
    if refused is not None:
        return refused if refused else 1
    config = write_config(stack)
    # supervisord stops every process on SIGINT and exits 0; this process only waits for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return subprocess.call([_tool("supervisord"), "-c", str(config)], cwd=ROOT,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def health_urls(stack: Stack) -> list[str]:
    """Return the URLs that answer once the whole stack can serve: a health endpoint, else the port."""
    return [f"http://127.0.0.1:{stack.ports[name]}{stack.health[name]}" if name in stack.health
            else f"tcp://127.0.0.1:{stack.ports[name]}" for name in procfile_processes(stack.procfile)]


def up(stack: Stack) -> int:
    """Start the stack in the background and wait until it is healthy; a running stack is left alone."""
    refused = _refuse_busy_ports(stack)
    if refused is not None:
        return refused
    config = write_config(stack)
    # The shell puts supervisord in a session of its own and exits, so nothing waits on it here;
    # supervisord's stdout (every program's output) goes to stack.log.
    launch = (f"setsid {shlex.quote(_tool('supervisord'))} -c {shlex.quote(str(config))} "
              f"> {shlex.quote(str(stack.log))} 2>&1 < /dev/null &")
    subprocess.run(["/bin/sh", "-c", launch], cwd=ROOT, check=True)
    if wait.main(["--timeout", str(UP_TIMEOUT_SECONDS), *health_urls(stack)]) != 0:
        print(f"--- the last lines of {stack.log}:", file=sys.stderr)
        print("\n".join(stack.log.read_text(errors="replace").splitlines()[-50:]), file=sys.stderr)
        down(stack)
        return 1
    print(f"stack is up: logs in {stack.log}; 'make ctl' shows the processes, 'make down' stops them")
    return 0


def _children(pid: int) -> list[int]:
    """Return the pids of ``pid``'s direct children (supervisord's programs)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name in parentheses may hold spaces; the parent pid follows it.
            fields = stat.read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down(stack: Stack) -> int:
    """Stop every process of the stack; return 0 only when supervisord is gone and no port is open."""
    pid = supervisord_pid(stack)
    if pid is None:
        busy = listening(stack.ports)
        if busy:
            print(f"not running from {stack.var_dir} (no supervisord), but something else listens on "
                  f"{_describe(busy)}", file=sys.stderr)
            return 1
        print("not running")
        return 0
    programs = _children(pid)
    os.kill(pid, signal.SIGTERM)  # supervisord stops its programs in reverse priority, then exits
    deadline = time.monotonic() + DOWN_TIMEOUT_SECONDS
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    # Whatever outlived supervisord (it was killed, or a program ignored SIGKILL's wait) goes now.
    leftovers = [child for child in programs if _alive(child)]
    for child in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2 if leftovers else 0)
    busy = listening(stack.ports)
    if busy:
        print(f"could not stop the stack: still listening on {_describe(busy)}", file=sys.stderr)
        return 1
    print("stopped" + (f" (killed {len(leftovers)} process group(s) that outlived supervisord)" if leftovers else ""))
    return 0


def ctl(stack: Stack, arguments: list[str]) -> int:
    """Run ``supervisorctl`` against the running stack (``status`` when no arguments are given)."""
    if supervisord_pid(stack) is None:
        print(f"not running from {stack.var_dir}: start it with 'make up'", file=sys.stderr)
        return 1
    arguments = arguments or ["status"]
    status = subprocess.call([_tool("supervisorctl"), "-c", str(stack.config), *arguments], cwd=ROOT)
    # `status` exits 3 when a process is not running: that is what it reports, not a failure of it.
    return 0 if arguments[0] == "status" and status == 3 else status


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m devstack.supervisor``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "up", "down", "ctl", "config"))
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="for ctl: supervisorctl's arguments")
    args = parser.parse_args(argv)
    stack = Stack.from_env()
    if args.command == "run":
        return run(stack)
    if args.command == "up":
        return up(stack)
    if args.command == "down":
        return down(stack)
    if args.command == "ctl":
        return ctl(stack, args.arguments)
    print(write_config(stack))
    return 0


if __name__ == "__main__":
    sys.exit(main())
