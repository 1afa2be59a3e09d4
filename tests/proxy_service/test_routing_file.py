"""The routing config file: parsing, hot reload by path, and a bad file that changes nothing."""

from __future__ import annotations

import logging
import os

import pytest

from proxy_service.config import RoutingSettings
from proxy_service.routing_file import BadRoutingFile, RoutingSource, parse_routing_file

DEFAULTS = RoutingSettings(gradual_migration=True, movies_migration_percent=50)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_file_overrides_the_environment_key_by_key():
    text = """
    # routing for the canary
    MOVIES_MIGRATION_PERCENT = 30

    MIGRATION_OVERRIDE_ENABLED="false"
    """
    assert parse_routing_file(text, DEFAULTS) == RoutingSettings(
        gradual_migration=True, movies_migration_percent=30, override_enabled=False, fallback_enabled=True)


def test_an_empty_file_keeps_the_environment_values():
    assert parse_routing_file("# nothing yet\n", DEFAULTS) == DEFAULTS


@pytest.mark.parametrize(("text", "message"), [
    ("MOVIES_MIGRATION_PERCENT=150", "invalid MOVIES_MIGRATION_PERCENT='150': expected an integer from 0 to 100"),
    ("MOVIES_MIGRATION_PERCENT=abc", "invalid MOVIES_MIGRATION_PERCENT='abc'"),
    ("GRADUAL_MIGRATION=sometimes", "invalid GRADUAL_MIGRATION='sometimes'"),
    ("MOVIES_PERCENT=30", "line 1: unknown key 'MOVIES_PERCENT'"),
    ("GRADUAL_MIGRATION=true\nGRADUAL_MIGRATION=false", "line 2: GRADUAL_MIGRATION is set twice"),
    ("just some words", "line 1: expected KEY=VALUE"),
    ("MOVIES_MIGRATION_PERCENT=", "line 1: MOVIES_MIGRATION_PERCENT has no value"),
])
def test_bad_files_are_refused_with_the_reason(text, message):
    with pytest.raises(BadRoutingFile, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_routing_file(text, DEFAULTS)


def test_without_a_file_the_environment_settings_stay(tmp_path):
    source = RoutingSource(DEFAULTS, None)
    assert source.current() == DEFAULTS
    assert source.state.source == "environment"


def test_a_change_is_picked_up_after_the_check_interval(tmp_path):
    path = tmp_path / "routing.env"
    path.write_text("MOVIES_MIGRATION_PERCENT=10\n")
    clock = Clock()
    changes = []
    source = RoutingSource(DEFAULTS, str(path), check_seconds=2, clock=clock, on_change=changes.append)
    assert source.current().movies_migration_percent == 10
    path.write_text("MOVIES_MIGRATION_PERCENT=20\n")
    clock.now += 1.9
    assert source.current().movies_migration_percent == 10
    clock.now += 0.2
    assert source.current().movies_migration_percent == 20
    assert [settings.movies_migration_percent for settings in changes] == [10, 20]
    assert source.state.source == str(path)


def test_a_bad_file_is_logged_once_and_the_last_good_settings_stay(tmp_path, caplog):
    path = tmp_path / "routing.env"
    path.write_text("MOVIES_MIGRATION_PERCENT=30\n")
    clock = Clock()
    source = RoutingSource(DEFAULTS, str(path), check_seconds=1, clock=clock)
    path.write_text("MOVIES_MIGRATION_PERCENT=300\n")
    with caplog.at_level(logging.WARNING, logger="proxy_service.routing_file"):
        for _ in range(5):
            clock.now += 1.5
            assert source.current().movies_migration_percent == 30
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].reason == "invalid MOVIES_MIGRATION_PERCENT='300': expected an integer from 0 to 100"
    assert source.state.error == warnings[0].reason
    path.write_text("MOVIES_MIGRATION_PERCENT=40\n")
    clock.now += 1.5
    assert source.current().movies_migration_percent == 40
    assert source.state.error is None


def test_a_missing_file_keeps_the_last_good_settings_until_it_returns(tmp_path):
    path = tmp_path / "routing.env"
    path.write_text("MOVIES_MIGRATION_PERCENT=70\n")
    clock = Clock()
    source = RoutingSource(DEFAULTS, str(path), check_seconds=1, clock=clock)
    path.unlink()
    clock.now += 1.5
    assert source.current().movies_migration_percent == 70
    assert "FileNotFoundError" in source.state.error
    path.write_text("MOVIES_MIGRATION_PERCENT=70\n")
    clock.now += 1.5
    assert source.current().movies_migration_percent == 70
    assert source.state.error is None


def test_a_file_that_never_existed_leaves_the_environment_settings(tmp_path):
    source = RoutingSource(DEFAULTS, str(tmp_path / "absent.env"))
    assert source.current() == DEFAULTS
    assert source.state.source == "environment"
    assert "FileNotFoundError" in source.state.error


def test_a_configmap_style_symlink_swap_is_followed(tmp_path):
    # The kubelet writes a new directory and swaps the ..data symlink; the file path stays the same.
    first, second = tmp_path / "..2024_1", tmp_path / "..2024_2"
    first.mkdir()
    second.mkdir()
    (first / "routing.env").write_text("MOVIES_MIGRATION_PERCENT=5\n")
    (second / "routing.env").write_text("MOVIES_MIGRATION_PERCENT=95\n")
    (tmp_path / "..data").symlink_to(first.name)
    (tmp_path / "routing.env").symlink_to("..data/routing.env")
    clock = Clock()
    source = RoutingSource(DEFAULTS, str(tmp_path / "routing.env"), check_seconds=1, clock=clock)
    assert source.current().movies_migration_percent == 5
    (tmp_path / "..data_tmp").symlink_to(second.name)
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    clock.now += 1.5
    assert source.current().movies_migration_percent == 95
