"""The local stack's process manager (devstack/supervisor.py), with real supervisord processes.

The stacks here are small ones of their own (Python's http.server on free ports, from a
Procfile written by the test), so they exercise supervisord, supervisorctl and the
``make up``/``down``/``ctl`` logic without starting PostgreSQL or the services.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from devstack import supervisor
from devstack.net import free_port

PYTHON = sys.executable


def _listens(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_until(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def stack(tmp_path):
    """A stack of two HTTP servers; ``b`` needs ``a``, and ``a`` takes two seconds to listen."""
    ports = {"a": free_port(), "b": free_port()}
    procfile = tmp_path / "Procfile"
    serve = f"exec {PYTHON} -m http.server --bind 127.0.0.1"
    # b fails at once unless a listens already: only the wait for what it needs lets it start.
    connect_to_a = f"{PYTHON} -c 'import socket; socket.create_connection((\"127.0.0.1\", {ports['a']}))'"
    procfile.write_text(f"# two plain HTTP servers\na: sleep 2 && {serve} {ports['a']}\n"
                        f"b: {connect_to_a} && {serve} {ports['b']}\n")
    stack = supervisor.Stack(tmp_path / "var", ports, procfile=procfile, needs={"b": ("a",)}, health={"b": "/"})
    yield stack
    supervisor.down(stack)


def test_the_config_runs_every_procfile_process_after_what_it_needs():
    stack = supervisor.Stack.from_env({"VAR_DIR": "var/x", "POSTGRES_PORT": "41001", "KAFKA_PORT": "41002"})
    text = supervisor.render_config(stack, supervisor.procfile_processes(), "secret")
    programs = {section.split("]")[0] for section in text.split("[program:")[1:]}
    assert programs == set(supervisor.procfile_processes())
    assert programs >= {"postgres", "kafka", "monolith", "movies", "events", "proxy"}
    monolith = text.split("[program:monolith]")[1].split("[program:")[0]
    assert "devstack.wait --quiet --timeout 120 tcp://127.0.0.1:41001 &&" in monolith
    events = text.split("[program:events]")[1].split("[program:")[0]
    assert "tcp://127.0.0.1:41002 &&" in events
    postgres = text.split("[program:postgres]")[1].split("[program:")[0]
    assert "stopsignal=INT" in postgres and "devstack.wait" not in postgres
    # supervisord stops the highest priority first: the gateway before its backends, PostgreSQL last.
    assert "priority=30" in text.split("[program:proxy]")[1] and "priority=10" in postgres


def test_up_twice_then_one_process_stopped_and_started_then_down(stack, capsys):
    assert supervisor.up(stack) == 0
    pid = supervisor.supervisord_pid(stack)
    assert pid is not None and _listens(stack.ports["a"]) and _listens(stack.ports["b"])

    assert supervisor.up(stack) == 0
    assert "already up" in capsys.readouterr().out
    assert supervisor.supervisord_pid(stack) == pid

    assert supervisor.ctl(stack, ["stop", "a"]) == 0
    assert not _listens(stack.ports["a"]) and _listens(stack.ports["b"])
    assert supervisor.ctl(stack, []) == 0  # status, with one process stopped, is not a failure
    assert supervisor.ctl(stack, ["start", "a"]) == 0
    assert _wait_until(lambda: _listens(stack.ports["a"]))

    capsys.readouterr()
    assert supervisor.down(stack) == 0
    assert capsys.readouterr().out.strip() == "stopped"
    assert not _listens(stack.ports["a"]) and not _listens(stack.ports["b"])
    assert supervisor.supervisord_pid(stack) is None
    assert supervisor.down(stack) == 0
    assert capsys.readouterr().out.strip() == "not running"


def test_down_says_so_when_a_port_of_the_stack_stays_open(stack, capsys):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.ports["b"]))
        squatter.listen()
        assert supervisor.down(stack) == 1
        assert f"{stack.ports['b']} (b)" in capsys.readouterr().err
        assert supervisor.up(stack) == 1  # and nothing starts on a taken port
        assert supervisor.supervisord_pid(stack) is None


def test_run_in_the_foreground_stops_everything_on_ctrl_c(stack, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""\
        import sys
        from pathlib import Path
        from devstack import supervisor
        stack = supervisor.Stack(Path({str(stack.var_dir)!r}), {stack.ports!r}, procfile=Path({str(stack.procfile)!r}),
                                 needs={{"b": ("a",)}}, health={{}})
        sys.exit(supervisor.run(stack))
        """))
    output = tmp_path / "output.log"
    with output.open("w") as log:
        process = subprocess.Popen([PYTHON, str(script)], cwd=supervisor.ROOT, start_new_session=True,
                                   env={**os.environ, "PYTHONPATH": str(supervisor.ROOT)},
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _wait_until(lambda: _listens(stack.ports["b"]), timeout=30), output.read_text()
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground group
        assert process.wait(timeout=30) == 0, output.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert not _listens(stack.ports["a"]) and not _listens(stack.ports["b"])
    assert f"Serving HTTP on 127.0.0.1 port {stack.ports['b']}" in output.read_text()  # the output reaches us
