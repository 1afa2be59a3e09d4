"""Application factory of the movies service."""

from __future__ import annotations

from flask import Flask

from cinema_common import db, movies
from cinema_common.webapp import new_app
from movies_service.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the movies service; gunicorn calls this once per worker."""
    config = config or Config.from_env()
    app = new_app(__name__)
    app.config["SETTINGS"] = config
    db.init_app(app, config)
    app.register_blueprint(movies.bp)

    return app
