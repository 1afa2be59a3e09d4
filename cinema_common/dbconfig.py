"""Settings shared by the services that own a database pool."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from cinema_common.env import EnvReader

DEFAULT_DB = "postgresql://cinemaabyss:cinemaabyss@localhost:5432/cinemaabyss"


@dataclass(frozen=True)
class DatabaseServiceConfig:
    """Typed settings of a service on PostgreSQL; subclasses set the default port."""

    port: int = 8080
    db_connection_string: str = DEFAULT_DB
    db_pool_size: int = 10
    db_timeout_seconds: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Self:
        """Read the settings, failing on a value that cannot be used.

        :raises ConfigError: naming the variable and its value.
        """
        env = EnvReader(environ)
        return cls(
            port=env.integer("PORT", cls.port, minimum=1, maximum=65535),
            db_connection_string=env.string("DB_CONNECTION_STRING", cls.db_connection_string),
            db_pool_size=env.integer("DB_POOL_SIZE", cls.db_pool_size, minimum=1, maximum=100),
            db_timeout_seconds=env.number("DB_TIMEOUT_SECONDS", cls.db_timeout_seconds, minimum=0.1),
        )
