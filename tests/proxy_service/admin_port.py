"""Requests of in-process tests that arrive on the gateway's admin port (``Config.admin_port``, 9000 by default)."""

# Werkzeug's test client takes SERVER_PORT from the base URL, as gunicorn takes it from the listener.
ADMIN = {"base_url": "http://localhost:9000"}
