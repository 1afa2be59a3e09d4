"""Movies service settings, read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass

from cinema_common.dbconfig import DatabaseServiceConfig


@dataclass(frozen=True)
class Config(DatabaseServiceConfig):
    """Typed movies service settings: ``PORT`` (8081) and ``DB_*``."""

    port: int = 8081
