"""Events service settings, read from the environment once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from cinema_common.env import ConfigError, EnvReader, parse_int

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Config:
    """Typed events service settings; every field has an environment variable (see docs/events.md)."""

    port: int = 8082
    kafka_brokers: tuple[str, ...] = ("localhost:9092",)
    consumer_group: str = "events-service"
    consumer_threads: int = 1
    topic_partitions: int = 3
    replication_factor: int = 1
    ack_timeout_seconds: float = 5.0
    linger_ms: int = 2
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    max_poll_interval_ms: int = 10000
    broker_check_seconds: float = 1.0
    reconnect_backoff_max_ms: int = 1000
    recent_events: int = 1000
    dedupe_window: int = 1000
    consume_events: bool = True
    kafka_client_log_level: str = "CRITICAL"

    @property
    def ack_timeout_ms(self) -> int:
        """The acknowledgement bound in whole milliseconds, as kafka-python takes it."""
        return max(1, round(self.ack_timeout_seconds * 1000))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Self:
        """Read the settings, failing on a value that cannot be used.

        :raises ConfigError: naming the variable and its value.
        """
        env = EnvReader(environ)
        session = env.integer("KAFKA_SESSION_TIMEOUT_MS", cls.session_timeout_ms, minimum=1000, maximum=3_600_000)
        heartbeat_name = "KAFKA_HEARTBEAT_INTERVAL_MS"
        heartbeat = env.integer(heartbeat_name, cls.heartbeat_interval_ms, minimum=100, maximum=3_600_000)
        if heartbeat >= session:
            raise ConfigError(heartbeat_name, str(heartbeat), f"less than KAFKA_SESSION_TIMEOUT_MS ({session})")
        ack_timeout = env.number("KAFKA_ACK_TIMEOUT_SECONDS", cls.ack_timeout_seconds, minimum=0.1)
        linger_name = "KAFKA_LINGER_MS"
        linger = env.integer(linger_name, cls.linger_ms, minimum=0, maximum=1000)
        if linger >= ack_timeout * 1000:
            raise ConfigError(linger_name, str(linger), f"less than KAFKA_ACK_TIMEOUT_SECONDS ({ack_timeout:g} s)")
        return cls(
            port=env.integer("PORT", cls.port, minimum=1, maximum=65535),
            kafka_brokers=parse_brokers("KAFKA_BROKERS", env.raw("KAFKA_BROKERS", ",".join(cls.kafka_brokers))),
            consumer_group=env.string("KAFKA_CONSUMER_GROUP", cls.consumer_group),
            consumer_threads=env.integer("KAFKA_CONSUMER_THREADS", cls.consumer_threads, minimum=1, maximum=32),
            topic_partitions=env.integer("KAFKA_TOPIC_PARTITIONS", cls.topic_partitions, minimum=1, maximum=1000),
            replication_factor=env.integer("KAFKA_REPLICATION_FACTOR", cls.replication_factor, minimum=1,
                                           maximum=32),
            ack_timeout_seconds=ack_timeout,
            linger_ms=linger,
            session_timeout_ms=session,
            heartbeat_interval_ms=heartbeat,
            max_poll_interval_ms=env.integer("KAFKA_MAX_POLL_INTERVAL_MS", cls.max_poll_interval_ms, minimum=1000,
                                             maximum=3_600_000),
            broker_check_seconds=env.number("KAFKA_CHECK_INTERVAL_SECONDS", cls.broker_check_seconds, minimum=0.1),
            reconnect_backoff_max_ms=env.integer("KAFKA_RECONNECT_BACKOFF_MAX_MS", cls.reconnect_backoff_max_ms,
                                                 minimum=50, maximum=600_000),
            recent_events=env.integer("RECENT_EVENTS_CAPACITY", cls.recent_events, minimum=1, maximum=100_000),
            dedupe_window=env.integer("KAFKA_DEDUPE_WINDOW", cls.dedupe_window, minimum=0, maximum=1_000_000),
            consume_events=env.boolean("CONSUME_EVENTS", cls.consume_events),
            kafka_client_log_level=_log_level(env.raw("KAFKA_CLIENT_LOG_LEVEL", cls.kafka_client_log_level)),
        )


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in _LOG_LEVELS:
        raise ConfigError("KAFKA_CLIENT_LOG_LEVEL", value, f"one of {', '.join(_LOG_LEVELS)}")
    return level


def parse_brokers(name: str, value: str) -> tuple[str, ...]:
    """Parse a comma-separated list of ``host:port`` bootstrap servers.

    :raises ConfigError: when an entry has no host or no valid port.
    """
    brokers = tuple(entry.strip() for entry in value.split(",") if entry.strip())
    expected = "comma-separated host:port pairs"
    if not brokers:
        raise ConfigError(name, value, expected)
    for broker in brokers:
        host, _, port = broker.rpartition(":")
        if not host.strip("[]") or not port:
            raise ConfigError(name, value, expected)
        try:
            parse_int(name, port, minimum=1, maximum=65535)
        except ConfigError:
            raise ConfigError(name, value, expected) from None
    return brokers
