"""Building a database-backed app for a test, and closing its pool afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Flask

from cinema_common import db
from cinema_common.dbconfig import DatabaseServiceConfig


def built(create_app: Callable[[DatabaseServiceConfig], Flask], config: DatabaseServiceConfig) -> Iterator[Flask]:
    """Yield the app made from ``config`` and close its connection pool when the test ends."""
    app = create_app(config)
    app.testing = True
    try:
        yield app
    finally:
        db.pool_of(app).close()
