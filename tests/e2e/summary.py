"""The short summary at the end of ``make test``: pytest counts, newman assertions, schemathesis results.

``python -m tests.e2e.summary DIR`` reads the reports the suites left in DIR
(``pytest.xml``, ``newman.json``, ``schemathesis-<service>.json``); a suite without a
report is shown as not run. The last line adds everything up as ``N passed, N failed``:
pytest tests, newman assertions and schemathesis test cases.
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
    """One suite's line of the summary and its counts."""

    line: str
    passed: int = 0
    failed: int = 0


def pytest_tally(path: Path) -> Tally:
    """Count the tests of a pytest JUnit XML report."""
    if not path.exists():
        return Tally("pytest        not run")
    suites = ET.parse(path).getroot()
    suite = suites if suites.tag == "testsuite" else suites.find("testsuite")
    total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    passed = total - skipped - failed
    return Tally(f"pytest        {passed} passed, {failed} failed, {skipped} skipped", passed, failed)


def newman_tally(path: Path) -> Tally:
    """Count the assertions and requests of a newman JSON report."""
    if not path.exists():
        return Tally("newman        not run")
    stats = json.loads(path.read_text())["run"]["stats"]
    assertions, requests = stats["assertions"], stats["requests"]
    failed = assertions["failed"] + requests["failed"]
    passed = assertions["total"] - assertions["failed"]
    return Tally(f"newman        {passed} assertions passed, {assertions['failed']} failed; "
                 f"{requests['total']} requests, {requests['failed']} failed", passed, failed)


def schemathesis_tally(directory: Path) -> list[Tally]:
    """Count the test cases of each service's schemathesis JSON report."""
    tallies = []
    for service in SERVICES:
        path = directory / f"schemathesis-{service}.json"
        if not path.exists():
            tallies.append(Tally(f"schemathesis  {service:<15} not run"))
            continue
        report = json.loads(path.read_text())
        cases = report["test_cases"]
        failed = cases["with_failures"] + cases["errored"] + len(report["errors"])
        line = (f"schemathesis  {service:<15} {report['operations']['tested']} operations, "
                f"{cases['generated']} test cases, {cases['unique_failures']} failures, "
                f"{len(report['errors'])} errors")
        tallies.append(Tally(line, cases["generated"] - cases["with_failures"] - cases["errored"], failed))
    return tallies


def summary(directory: Path) -> list[str]:
    """Return the lines of the summary."""
    tallies = [pytest_tally(directory / "pytest.xml"), newman_tally(directory / "newman.json"),
               *schemathesis_tally(directory)]
    passed, failed = sum(t.passed for t in tallies), sum(t.failed for t in tallies)
    return ["", "=" * 30 + " make test summary " + "=" * 30, *(t.line for t in tallies),
            f"total: {passed} passed, {failed} failed"]


if __name__ == "__main__":
    print("\n".join(summary(Path(sys.argv[1]))))
