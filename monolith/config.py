"""Monolith settings, read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass

from cinema_common.dbconfig import DatabaseServiceConfig


@dataclass(frozen=True)
class Config(DatabaseServiceConfig):
    """Typed monolith settings: ``PORT`` (8080) and ``DB_*``."""

    port: int = 8080
