"""Gateway settings: the contract's names and defaults, and a one-line refusal of anything unusable."""

from __future__ import annotations

import pytest

from cinema_common.env import ConfigError
from cinema_common.serving import gunicorn_settings
from proxy_service.config import Config, RoutingSettings


def test_defaults_follow_the_contract():
    config = Config.from_env({})
    assert (config.port, config.monolith_url, config.movies_service_url, config.events_service_url) == (
        8000, "http://localhost:8080", "http://localhost:8081", "http://localhost:8082")
    assert config.routing == RoutingSettings(gradual_migration=True, movies_migration_percent=50,
                                             override_enabled=True, fallback_enabled=True)
    assert (config.max_body_bytes, config.response_buffer_bytes) == (1024 * 1024, 8 * 1024 * 1024)
    assert config.routing_config_file is None


def test_every_setting_is_read():
    config = Config.from_env({
        "PORT": "9000", "ADMIN_PORT": "9100", "MONOLITH_URL": "http://mono:1/", "MOVIES_SERVICE_URL": "http://movies:2",
        "EVENTS_SERVICE_URL": "http://events", "GRADUAL_MIGRATION": "no", "MOVIES_MIGRATION_PERCENT": "30",
        "MIGRATION_OVERRIDE_ENABLED": "false", "MOVIES_FALLBACK_ENABLED": "0", "ROUTING_CONFIG_FILE": "/etc/r.env",
        "ROUTING_CHECK_SECONDS": "2.5", "MIGRATION_SALT": "pepper", "UPSTREAM_CONNECT_TIMEOUT_SECONDS": "0.5",
        "UPSTREAM_READ_TIMEOUT_SECONDS": "3", "MAX_BODY_BYTES": "100", "UPSTREAM_POOL_SIZE": "8",
        "RESPONSE_BUFFER_BYTES": "5000",
        "CIRCUIT_FAILURE_THRESHOLD": "3", "CIRCUIT_COOLDOWN_SECONDS": "1.5", "READY_TIMEOUT_SECONDS": "0.3",
    })
    assert config == Config(
        port=9000, admin_port=9100, monolith_url="http://mono:1", movies_service_url="http://movies:2",
        events_service_url="http://events",
        routing=RoutingSettings(gradual_migration=False, movies_migration_percent=30, override_enabled=False,
                                fallback_enabled=False),
        routing_config_file="/etc/r.env", routing_check_seconds=2.5, migration_salt="pepper",
        connect_timeout_seconds=0.5, read_timeout_seconds=3.0, max_body_bytes=100, upstream_pool_size=8,
        response_buffer_bytes=5000,
        circuit_failure_threshold=3, circuit_cooldown_seconds=1.5, ready_timeout_seconds=0.3)
    assert (config.address("events-service").host, config.address("events-service").port) == ("events", 80)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("MOVIES_MIGRATION_PERCENT", "abc", "an integer from 0 to 100"),
    ("MOVIES_MIGRATION_PERCENT", "150", "an integer from 0 to 100"),
    ("MOVIES_MIGRATION_PERCENT", "-1", "an integer from 0 to 100"),
    ("MOVIES_MIGRATION_PERCENT", "12.5", "an integer from 0 to 100"),
    ("GRADUAL_MIGRATION", "maybe", "one of true/false/1/0/yes/no"),
    ("MONOLITH_URL", "localhost:8080", "an http://host[:port] URL without a path"),
    ("MOVIES_SERVICE_URL", "https://movies:8081", "an http://host[:port] URL without a path"),
    ("EVENTS_SERVICE_URL", "http://events:8082/api", "an http://host[:port] URL without a path"),
    ("MONOLITH_URL", "http://mono:99999", "an http://host[:port] URL without a path"),
    ("UPSTREAM_READ_TIMEOUT_SECONDS", "0", "a number of at least 0.01"),
    ("UPSTREAM_CONNECT_TIMEOUT_SECONDS", "soon", "a number of at least 0.01"),
    ("MAX_BODY_BYTES", "-5", "an integer of at least 0"),
    ("RESPONSE_BUFFER_BYTES", "lots", "an integer of at least 0"),
    ("UPSTREAM_POOL_SIZE", "0", "an integer from 1 to 10000"),
    ("CIRCUIT_FAILURE_THRESHOLD", "0", "an integer from 1 to 1000"),
    ("PORT", "eighty", "an integer from 1 to 65535"),
])
def test_bad_values_name_the_variable_and_the_value(name, value, expected):
    with pytest.raises(ConfigError) as caught:
        Config.from_env({name: value})
    assert str(caught.value) == f"invalid {name}={value!r}: expected {expected}"


@pytest.mark.parametrize("value", ["abc", "150", "-1"])
def test_a_bad_percentage_stops_gunicorn_with_one_line(value):
    with pytest.raises(SystemExit) as caught:
        gunicorn_settings(lambda: Config.from_env({"MOVIES_MIGRATION_PERCENT": value}), "proxy_service")
    assert str(caught.value) == (f"proxy_service: invalid MOVIES_MIGRATION_PERCENT={value!r}: "
                                 "expected an integer from 0 to 100")
