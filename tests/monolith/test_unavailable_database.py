"""With PostgreSQL out of reach, requests get a bounded 503 and health stays up."""

from __future__ import annotations

import time

from devstack.net import free_port
from monolith.app import create_app
from monolith.config import Config
from tests.dbapps import built


def test_unreachable_database_is_503_within_the_timeout():
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    for app in built(create_app, Config(db_connection_string=url, db_timeout_seconds=1)):
        client = app.test_client()
        started = time.monotonic()
        response = client.get("/api/users")
        assert time.monotonic() - started < 3
        assert response.status_code == 503
        assert response.get_json() == {"error": "database unavailable"}
        assert client.get("/health").get_json() == {"status": True, "database": False}
        ready = client.get("/ready")
        assert (ready.status_code, ready.get_json()) == (
            503, {"error": "database unavailable", "status": False, "database": False})
