"""The replica's shared state as a unit: workers that open a new one at once, and the master forgetting one."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from events_service.shared import SharedState, forget_worker

WORKERS = 6
STARTS = 15


def _open(directory: str, barrier, failures) -> None:
    barrier.wait()
    try:
        state = SharedState(Path(directory), capacity=10)
        state.add([{"event": {"id": "x"}}])
        state.close()
    except Exception as error:
        failures.put(f"{type(error).__name__}: {error}")


def test_workers_that_open_a_new_state_at_the_same_moment_all_start(tmp_path):
    context = multiprocessing.get_context("fork")
    failures = context.Queue()
    for start in range(STARTS):
        directory = tmp_path / f"start-{start}"
        directory.mkdir()
        barrier = context.Barrier(WORKERS)
        processes = [context.Process(target=_open, args=(str(directory), barrier, failures)) for _ in range(WORKERS)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(30)
        assert [process.exitcode for process in processes] == [0] * WORKERS
        state = SharedState(directory, capacity=10)
        assert state.latest(100) == [{"event": {"id": "x"}}] * WORKERS
        state.close()
    found = []
    while not failures.empty():
        found.append(failures.get())
    assert found == []


def test_the_master_forgets_an_exited_workers_consumers(tmp_path, caplog):
    state = SharedState(tmp_path, capacity=10)
    state.report(4242, [{"name": "consumer-1", "state": "consuming"}])
    forget_worker(tmp_path, 4242)
    with sqlite3.connect(state.path) as db:
        assert db.execute("SELECT count(*) FROM consumers").fetchone() == (0,)
    state.close()
    forget_worker(tmp_path / "gone", 4242)  # a file it cannot open: said, not raised
    assert "could not forget an exited worker's consumers" in caplog.messages
