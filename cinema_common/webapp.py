"""The Flask application every CinemaAbyss service starts from."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, Response
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


class ApiFlask(Flask):
    """Flask whose automatic ``OPTIONS`` answer is a bodiless 204 with ``Allow``."""

    def make_default_options_response(self) -> Response:
        """Answer ``OPTIONS`` with 204 No Content and the ``Allow`` header Flask computes."""
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        # Sorted, as the 405 answers list them.
        response.headers["Allow"] = ", ".join(sorted(response.allow))
        return response


def new_app(import_name: str, *, max_body_bytes: int = 1024 * 1024) -> Flask:
    """Return a Flask app with JSON errors, ISO-8601 JSON, a request body limit and no slash redirects."""
    configure_logging()
    # No static folder: an API has no files to serve, so no /static/<path> route either.
    app = ApiFlask(import_name, static_folder=None)
    # Werkzeug would answer /api//users with a 308 to its own idea of the URL (naming the
    # backend's address) and an HTML body; without merging, such a path is simply not found.
    app.url_map.merge_slashes = False
    app.json = ApiJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    register_error_handlers(app)
    return app
