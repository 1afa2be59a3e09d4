"""The services' gunicorn settings: read from the environment, and gunicorn left as it comes."""

from __future__ import annotations

import importlib

import pytest
from gunicorn import glogging, util
from gunicorn.http import wsgi

from cinema_common.serving import gunicorn_settings
from monolith.config import Config as MonolithConfig


def test_gunicorn_settings_replace_nothing_inside_gunicorn():
    settings = gunicorn_settings(lambda: MonolithConfig.from_env({}), "monolith", environ={})
    assert (wsgi.Response.__module__, util.write_error.__module__) == ("gunicorn.http.wsgi", "gunicorn.util")
    assert "logger_class" not in settings


@pytest.mark.parametrize("module", ["monolith.gunicorn_conf", "movies_service.gunicorn_conf"])
def test_the_backends_settings_modules_use_gunicorns_own_logger(module, monkeypatch):
    for name in ("PORT", "GUNICORN_THREADS", "GUNICORN_WORKER_CLASS"):
        monkeypatch.delenv(name, raising=False)
    settings = vars(importlib.import_module(module))
    assert (settings["worker_class"], settings["threads"]) == ("gthread", 8)
    assert settings.get("logger_class", glogging.Logger) is glogging.Logger
    assert settings["accesslog"] == "-"
