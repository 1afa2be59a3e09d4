"""Gunicorn settings of the monolith; the Procfile and the Dockerfile both load this module."""

from cinema_common.serving import gunicorn_settings
from monolith.config import Config

# Eight threads a worker: while PostgreSQL stalls, each holds a request until DB_TIMEOUT_SECONDS,
# and liveness still needs a free thread to answer at once (docs/decisions/0003).
globals().update(gunicorn_settings(Config.from_env, "monolith", threads=8))
