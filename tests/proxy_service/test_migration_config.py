"""The migration-safety settings: the contract's names and defaults, from the environment and the routing file."""

from __future__ import annotations

import pytest

from cinema_common.env import ConfigError
from proxy_service.config import Config, RoutingSettings
from proxy_service.routing_file import BadRoutingFile, parse_routing_file


def test_defaults_follow_the_contract():
    config = Config.from_env({})
    assert config.admin_port == 9000
    assert (config.guard_window_seconds, config.guard_min_requests, config.guard_max_error_rate,
            config.guard_max_p99_seconds) == (60.0, 20, 0.05, 1.0)
    routing = config.routing
    assert (routing.ramp_steps, routing.ramp_interval_seconds, routing.ramp_start) == ((), 600.0, None)
    assert (routing.guard_enabled, routing.guard_rearm) == (True, "")
    assert (routing.shadow_percent, routing.shadow_ignore_fields) == (0.0, ())


def test_every_migration_setting_is_read_from_the_environment():
    config = Config.from_env({
        "ADMIN_PORT": "9100", "MOVIES_RAMP_STEPS": "5,25,50,100", "MOVIES_RAMP_INTERVAL_SECONDS": "30",
        "MOVIES_RAMP_START": "2026-12-01T22:00:00Z", "GUARD_ENABLED": "no", "GUARD_WINDOW_SECONDS": "10",
        "GUARD_MIN_REQUESTS": "5", "GUARD_MAX_ERROR_RATE": "0.2", "GUARD_MAX_P99_SECONDS": "0.5",
        "GUARD_REARM": "fix-1", "SHADOW_PERCENT": "12.5", "SHADOW_IGNORE_FIELDS": "updated_at, etag,,",
        "SHADOW_MAX_IN_FLIGHT": "4", "STATUS_SAMPLE_SECONDS": "1",
    })
    assert (config.admin_port, config.guard_window_seconds, config.guard_min_requests, config.guard_max_error_rate,
            config.guard_max_p99_seconds, config.shadow_max_in_flight, config.status_sample_seconds) == (
        9100, 10.0, 5, 0.2, 0.5, 4, 1.0)
    assert config.routing == RoutingSettings(
        ramp_steps=(5, 25, 50, 100), ramp_interval_seconds=30.0, ramp_start=1796162400.0, guard_enabled=False,
        guard_rearm="fix-1", shadow_percent=12.5, shadow_ignore_fields=("etag", "updated_at"))


@pytest.mark.parametrize(("name", "value"), [
    ("ADMIN_PORT", "8000"), ("ADMIN_PORT", "0"), ("MOVIES_RAMP_STEPS", "50,25"), ("MOVIES_RAMP_STEPS", "5,x"),
    ("MOVIES_RAMP_INTERVAL_SECONDS", "0"), ("MOVIES_RAMP_START", "22:00"), ("GUARD_ENABLED", "maybe"),
    ("GUARD_MIN_REQUESTS", "0"), ("GUARD_MAX_ERROR_RATE", "1.5"), ("GUARD_MAX_P99_SECONDS", "-1"),
    ("SHADOW_PERCENT", "101"), ("SHADOW_PERCENT", "ten")])
def test_unusable_values_stop_the_gateway_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_the_routing_file_may_set_the_ramp_the_guard_switch_and_the_shadow():
    text = ("MOVIES_RAMP_STEPS=10,100\nMOVIES_RAMP_INTERVAL_SECONDS=5\nMOVIES_RAMP_START=2026-12-01T22:00:00Z\n"
            "GUARD_ENABLED=false\nGUARD_REARM=after-the-fix\nSHADOW_PERCENT=100\nSHADOW_IGNORE_FIELDS=etag\n")
    settings = parse_routing_file(text, RoutingSettings(movies_migration_percent=7, guard_rearm="env"))
    assert settings == RoutingSettings(
        movies_migration_percent=7, ramp_steps=(10, 100), ramp_interval_seconds=5.0, ramp_start=1796162400.0,
        guard_enabled=False, guard_rearm="after-the-fix", shadow_percent=100.0, shadow_ignore_fields=("etag",))
    assert parse_routing_file("", RoutingSettings(guard_rearm="env")).guard_rearm == "env"
    with pytest.raises(BadRoutingFile, match="MOVIES_RAMP_STEPS"):
        parse_routing_file("MOVIES_RAMP_STEPS=100,5\n", RoutingSettings())


@pytest.mark.parametrize("name", ["GUARD_WINDOW_SECONDS", "GUARD_MIN_REQUESTS", "ADMIN_PORT"])
def test_settings_not_marked_for_the_file_are_refused_there(name):
    with pytest.raises(BadRoutingFile, match="unknown key"):
        parse_routing_file(f"{name}=5\n", RoutingSettings())
