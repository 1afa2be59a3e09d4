"""The short summary at the end of ``make test``: pytest tests, newman assertions, schemathesis cases.

``python -m tests.e2e.summary DIR`` reads the reports the suites left in DIR
(``pytest.xml``, ``newman.json``, ``schemathesis-<service>.json``); a suite without a
report is shown as not run. Each suite counts in its own unit (tests, assertions, test
cases), so each keeps its own line and nothing is added across suites; the last line
names the suites that failed or did not run.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.run import SERVICES


@dataclass(frozen=True)
class Tally:
    """One suite's line of the summary, and whether it passed (None: it did not run)."""

    name: str
    line: str
    passed: bool | None = None


def pytest_tally(path: Path) -> Tally:
    """Count the tests of a pytest JUnit XML report."""
    if not path.exists():
        return Tally("pytest", "pytest        not run")
    suites = ET.parse(path).getroot()
    suite = suites if suites.tag == "testsuite" else suites.find("testsuite")
    total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    passed = total - skipped - failed
    return Tally("pytest", f"pytest        {total} tests: {passed} passed, {failed} failed, {skipped} skipped",
                 failed == 0)


def newman_tally(path: Path) -> Tally:
    """Count the assertions and requests of a newman JSON report."""
    if not path.exists():
        return Tally("newman", "newman        not run")
    stats = json.loads(path.read_text())["run"]["stats"]
    assertions, requests = stats["assertions"], stats["requests"]
    passed = assertions["total"] - assertions["failed"]
    line = (f"newman        {assertions['total']} assertions: {passed} passed, {assertions['failed']} failed "
            f"({requests['total']} requests, {requests['failed']} failed)")
    return Tally("newman", line, assertions["failed"] == 0 and requests["failed"] == 0)


def schemathesis_tally(directory: Path) -> list[Tally]:
    """Count the test cases of each service's schemathesis JSON report."""
    tallies = []
    for service in SERVICES:
        name = f"schemathesis {service}"
        path = directory / f"schemathesis-{service}.json"
        if not path.exists():
            tallies.append(Tally(name, f"schemathesis  {service:<15} not run"))
            continue
        report = json.loads(path.read_text())
        cases = report["test_cases"]
        failed = cases["with_failures"] + cases["errored"] + len(report["errors"])
        line = (f"schemathesis  {service:<15} {report['operations']['tested']} operations, "
                f"{cases['generated']} test cases, {cases['unique_failures']} failures, "
                f"{len(report['errors'])} errors")
        tallies.append(Tally(name, line, failed == 0))
    return tallies


def result_line(tallies: list[Tally]) -> str:
    """Return the last line: every suite passed, or which failed and which did not run."""
    failed = [t.name for t in tallies if t.passed is False]
    missing = [t.name for t in tallies if t.passed is None]
    if not failed and not missing:
        return "result: every suite passed"
    parts = ([f"failed: {', '.join(failed)}"] if failed else []) + (
        [f"not run: {', '.join(missing)}"] if missing else [])
    return "result: " + "; ".join(parts)


def summary(directory: Path) -> list[str]:
    """Return the lines of the summary."""
    tallies = [pytest_tally(directory / "pytest.xml"), newman_tally(directory / "newman.json"),
               *schemathesis_tally(directory)]
    return ["", "=" * 30 + " make test summary " + "=" * 30, *(t.line for t in tallies), result_line(tallies)]


if __name__ == "__main__":
    print("\n".join(summary(Path(sys.argv[1]))))
