"""Reading settings from the environment: exact parsing, and a one-line refusal of bad values."""

from __future__ import annotations

import pytest

from cinema_common.env import ConfigError, EnvReader
from cinema_common.serving import gunicorn_settings
from monolith.config import Config


@pytest.mark.parametrize(("value", "expected"), [
    ("true", True), ("TRUE", True), ("1", True), ("Yes", True),
    ("false", False), ("False", False), ("0", False), ("NO", False), ("", True),
])
def test_booleans(value, expected):
    assert EnvReader({"FLAG": value}).boolean("FLAG", True) is expected


@pytest.mark.parametrize("value", ["abc", "150", "-1", "1.5", "ten"])
def test_bad_integers_name_the_variable_and_the_value(value):
    with pytest.raises(ConfigError) as caught:
        EnvReader({"PERCENT": value}).integer("PERCENT", 50, minimum=0, maximum=100)
    assert str(caught.value) == f"invalid PERCENT={value!r}: expected an integer from 0 to 100"


@pytest.mark.parametrize("value", ["maybe", "2", "on"])
def test_bad_booleans(value):
    with pytest.raises(ConfigError, match="expected one of true/false/1/0/yes/no"):
        EnvReader({"FLAG": value}).boolean("FLAG", True)


def test_config_reads_the_contract_names():
    config = Config.from_env({"PORT": "9000", "DB_CONNECTION_STRING": "postgresql://x@y/z"})
    assert (config.port, config.db_connection_string) == (9000, "postgresql://x@y/z")


def test_gunicorn_settings_stop_the_process_with_one_line():
    with pytest.raises(SystemExit) as caught:
        gunicorn_settings(lambda: Config.from_env({"PORT": "eighty"}), "monolith")
    assert str(caught.value) == "monolith: invalid PORT='eighty': expected an integer from 1 to 65535"


def test_gunicorn_settings_come_from_the_environment():
    settings = gunicorn_settings(lambda: Config.from_env({}), "monolith",
                                 environ={"WEB_CONCURRENCY": "3", "BIND_HOST": "127.0.0.1"})
    assert (settings["bind"], settings["workers"], settings["threads"]) == ("127.0.0.1:8080", 3, 4)
