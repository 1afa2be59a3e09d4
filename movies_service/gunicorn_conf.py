"""Gunicorn settings of the movies service; the Procfile and the Dockerfile both load this module."""

from cinema_common.serving import gunicorn_settings
from movies_service.config import Config

globals().update(gunicorn_settings(Config.from_env, "movies_service"))
