"""The dashboard in a real browser: headless Chromium loads /dashboard from a running gateway with test backends.

It checks that the split in force, the guard's state after a forced trip and a shadow mismatch
appear on the page, and takes a screenshot (copied to ``$DASHBOARD_SCREENSHOT`` when set, which is
how docs/dashboard.png is made). Without Chromium the test is skipped, unless ``CI`` is true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.proxy_service.backends import GunicornGateway
from tests.proxy_service.json_backends import JsonBackend
from tests.proxy_service.test_migration_gunicorn import MOVIES, get, status_of, wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed (apt-get install chromium); CI must run the browser test")
        pytest.skip("chromium is not installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    folder = tmp_path_factory.mktemp("dashboard")
    routing_file = folder / "routing.env"
    routing_file.write_text("MOVIES_RAMP_STEPS=10,50,100\nMOVIES_RAMP_INTERVAL_SECONDS=600\nSHADOW_PERCENT=100\n"
                            "SHADOW_IGNORE_FIELDS=etag\n")
    monolith = JsonBackend(MOVIES)
    movies = JsonBackend([MOVIES[0], {**MOVIES[1], "rating": 7.9}])
    gateway = GunicornGateway({
        "MONOLITH_URL": monolith.url, "MOVIES_SERVICE_URL": movies.url, "EVENTS_SERVICE_URL": monolith.url,
        "ROUTING_CONFIG_FILE": str(routing_file), "ROUTING_CHECK_SECONDS": "0.2", "GUARD_WINDOW_SECONDS": "30",
        "GUARD_MIN_REQUESTS": "3", "CIRCUIT_FAILURE_THRESHOLD": "1000", "STATUS_SAMPLE_SECONDS": "1",
    }, folder / "gateway.log")
    yield SimpleNamespace(gateway=gateway, monolith=monolith, movies=movies, folder=folder)
    gateway.stop()
    monolith.stop()
    movies.stop()


def browse(chromium: str, url: str, folder: Path, *extra: str) -> str:
    """Run headless Chromium on ``url`` with a fresh profile and return what it prints (the DOM for --dump-dom)."""
    profile = folder / f"profile-{time.monotonic_ns()}"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=4000",
               "--window-size=1440,1180", "--hide-scrollbars", *extra, url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def traffic(stack: SimpleNamespace, count: int) -> None:
    for number in range(count):
        get(f"{stack.gateway.url}/api/movies?limit=2", **{"X-User-Id": f"user-{number}"})
        get(f"{stack.gateway.url}/api/users")


def test_the_dashboard_shows_the_split_the_tripped_guard_and_a_mismatch(chromium, stack):
    traffic(stack, 30)
    assert wait_until(lambda: status_of(stack.gateway)["shadow"]["counts"]["mismatch"] >= 1, 10)
    before = browse(chromium, f"{stack.gateway.admin_url}/dashboard", stack.folder, "--dump-dom")
    assert '<span id="split-percent">10</span>' in before
    assert "ramp step 1 of 3" in before
    assert 'class="current" title="step 1">10 %' in before

    stack.movies.status = 500
    traffic(stack, 60)
    assert wait_until(lambda: status_of(stack.gateway)["guard"]["state"] == "tripped", 5)
    time.sleep(2.5)  # two more history samples, so the charts show the failure
    after = browse(chromium, f"{stack.gateway.admin_url}/dashboard", stack.folder, "--dump-dom")
    assert '<span id="split-percent">0</span>' in after
    assert '<span class="state bad" id="guard-state">tripped</span>' in after
    assert "Change GUARD_REARM to release it." in after
    assert 'class="held" title="step 1">10 %' in after
    assert "$[1].rating" in after and ">8.3<" in after and ">7.9<" in after
    assert "GET /api/movies?limit=2" in after
    assert "status-500" in after
    assert "live · updated" in after

    screenshot = stack.folder / "dashboard.png"
    browse(chromium, f"{stack.gateway.admin_url}/dashboard", stack.folder, f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000, "a page with content, not a blank one"
    if os.environ.get("DASHBOARD_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["DASHBOARD_SCREENSHOT"])
