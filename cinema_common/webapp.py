"""The Flask application every CinemaAbyss service starts from."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from cinema_common.errors import register_error_handlers
from cinema_common.jsonlog import configure_logging


class ApiJSONProvider(DefaultJSONProvider):
    """JSON with ISO-8601 timestamps and plain numbers for decimals."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        """Serialise the types PostgreSQL hands back."""
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        if isinstance(o, Decimal):
            return float(o)
        return DefaultJSONProvider.default(o)


def new_app(import_name: str, *, max_body_bytes: int = 1024 * 1024) -> Flask:
    """Return a Flask app with JSON errors, ISO-8601 JSON and a request body limit."""
    configure_logging()
    # No static folder: an API has no files to serve, so no /static/<path> route either.
    app = Flask(import_name, static_folder=None)
    app.json = ApiJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    register_error_handlers(app)
    return app
