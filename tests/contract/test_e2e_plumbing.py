"""The plumbing of `make e2e` and the summary of `make test`, without a stack."""

from __future__ import annotations

import json

import pytest

from tests.e2e import run, summary


def test_free_ports_are_distinct_and_not_the_defaults():
    ports = run.free_ports(6)
    assert len(set(ports)) == 6
    assert not set(ports) & {5432, 9092, 8000, 8080, 8081, 8082}


def test_the_inner_make_gets_the_ports_and_none_of_the_derived_settings(monkeypatch):
    monkeypatch.setenv("DB_CONNECTION_STRING", "postgresql://x@127.0.0.1:5432/cinemaabyss")
    monkeypatch.setenv("MAKEFLAGS", "MONOLITH_PORT=8080")
    monkeypatch.setenv("MONOLITH_PORT", "8080")
    env = run.stack_environment({"MONOLITH_PORT": 41000, "POSTGRES_PORT": 41001})
    assert env["MONOLITH_PORT"] == "41000" and env["POSTGRES_PORT"] == "41001"
    assert env["VAR_DIR"] == "var/e2e"
    assert "DB_CONNECTION_STRING" not in env and "MAKEFLAGS" not in env


def test_every_service_the_procfile_runs_is_tested():
    processes = run.procfile_processes()
    assert {"monolith", "movies"} <= processes
    known = {process for _, process, _, _ in run.SERVICES}
    assert processes - known <= {"postgres", "kafka"}


@pytest.fixture
def reports(tmp_path):
    (tmp_path / "pytest.xml").write_text(
        '<testsuites><testsuite name="pytest" tests="10" failures="1" errors="1" skipped="2"/></testsuites>')
    (tmp_path / "newman.json").write_text(json.dumps({"run": {"stats": {
        "assertions": {"total": 50, "failed": 3}, "requests": {"total": 20, "failed": 1}}}}))
    (tmp_path / "schemathesis-monolith.json").write_text(json.dumps({
        "operations": {"tested": 12}, "errors": [],
        "test_cases": {"generated": 100, "with_failures": 2, "unique_failures": 1, "errored": 0}}))
    return tmp_path


def test_the_summary_counts_every_suite_in_its_own_unit(reports):
    lines = summary.summary(reports)
    assert "pytest        10 tests: 6 passed, 2 failed, 2 skipped" in lines
    assert "newman        50 assertions: 47 passed, 3 failed (20 requests, 1 failed)" in lines
    assert any(line.startswith("schemathesis  monolith        12 operations, 100 test cases, 1 failures")
               for line in lines)
    assert any(line.startswith("schemathesis  gateway") and line.endswith("not run") for line in lines)
    # Tests, assertions and test cases are different units: no line adds them up.
    assert not any(line.startswith("total") for line in lines)
    assert lines[-1] == ("result: failed: pytest, newman, schemathesis monolith; not run: "
                         "schemathesis movies-service, schemathesis events-service, schemathesis gateway")


def test_the_summary_says_when_every_suite_passed(reports):
    (reports / "pytest.xml").write_text('<testsuites><testsuite name="pytest" tests="3" failures="0" errors="0"'
                                        ' skipped="1"/></testsuites>')
    (reports / "newman.json").write_text(json.dumps({"run": {"stats": {
        "assertions": {"total": 5, "failed": 0}, "requests": {"total": 2, "failed": 0}}}}))
    for service in ("monolith", "movies-service", "events-service", "gateway"):
        (reports / f"schemathesis-{service}.json").write_text(json.dumps({
            "operations": {"tested": 1}, "errors": [],
            "test_cases": {"generated": 9, "with_failures": 0, "unique_failures": 0, "errored": 0}}))
    assert summary.summary(reports)[-1] == "result: every suite passed"


def test_a_suite_without_a_report_is_not_run(tmp_path):
    lines = summary.summary(tmp_path)
    assert lines[-1].startswith("result: not run: pytest, newman, schemathesis monolith")
    assert "pytest        not run" in lines and "newman        not run" in lines
