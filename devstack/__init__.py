"""The local development stack: PostgreSQL and a Kafka-protocol broker from PyPI, no Docker."""
