"""Fixtures of the monolith tests: the app on a private copy of the seeded database.

``client`` comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from monolith.app import create_app
from monolith.config import Config
from tests.dbapps import built


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The monolith on its own database."""
    yield from built(create_app, Config(db_connection_string=database_url, db_timeout_seconds=2))
