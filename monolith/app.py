"""Application factory of the monolith."""

from __future__ import annotations

from flask import Flask

from cinema_common import db, movies
from cinema_common.webapp import new_app
from monolith import payments, subscriptions, users
from monolith.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the monolith; gunicorn calls this once per worker."""
    config = config or Config.from_env()
    app = new_app(__name__)
    app.config["SETTINGS"] = config
    db.init_app(app, config)
    for blueprint in (users.bp, movies.bp, payments.bp, subscriptions.bp):
        app.register_blueprint(blueprint)
    app.add_url_rule("/health", "health", db.health)
    app.add_url_rule("/ready", "ready", db.readiness)

    return app
