"""Gunicorn settings of the monolith; the Procfile and the Dockerfile both load this module."""

from cinema_common.serving import gunicorn_settings
from monolith.config import Config

globals().update(gunicorn_settings(Config.from_env, "monolith"))
