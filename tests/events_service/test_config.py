"""Settings of the events service, and what its gunicorn configuration refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cinema_common.env import ConfigError
from devstack.net import free_port
from events_service.config import Config

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def test_defaults_match_the_contract():
    config = Config.from_env({})
    assert config == Config()
    assert (config.port, config.kafka_brokers, config.consumer_group) == (8082, ("localhost:9092",), "events-service")
    assert (config.ack_timeout_seconds, config.session_timeout_ms, config.heartbeat_interval_ms,
            config.max_poll_interval_ms) == (5.0, 6000, 1000, 10000)


def test_every_setting_is_read():
    config = Config.from_env({
        "PORT": "9000", "KAFKA_BROKERS": " kafka-0:9092, kafka-1:9092 ", "KAFKA_CONSUMER_GROUP": "audit",
        "KAFKA_CONSUMER_THREADS": "3", "KAFKA_TOPIC_PARTITIONS": "6", "KAFKA_REPLICATION_FACTOR": "3",
        "KAFKA_ACK_TIMEOUT_SECONDS": "2.5", "KAFKA_LINGER_MS": "10", "KAFKA_SESSION_TIMEOUT_MS": "45000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "3000", "KAFKA_MAX_POLL_INTERVAL_MS": "300000",
        "KAFKA_CHECK_INTERVAL_SECONDS": "2", "KAFKA_RECONNECT_BACKOFF_MAX_MS": "30000",
        "RECENT_EVENTS_CAPACITY": "50", "KAFKA_DEDUPE_WINDOW": "200", "CONSUME_EVENTS": "no",
        "KAFKA_CLIENT_LOG_LEVEL": "warning",
    })
    assert config == Config(
        port=9000, kafka_brokers=("kafka-0:9092", "kafka-1:9092"), consumer_group="audit", consumer_threads=3,
        topic_partitions=6, replication_factor=3, ack_timeout_seconds=2.5, linger_ms=10, session_timeout_ms=45000,
        heartbeat_interval_ms=3000, max_poll_interval_ms=300000, broker_check_seconds=2.0,
        reconnect_backoff_max_ms=30000, recent_events=50, dedupe_window=200, consume_events=False,
        kafka_client_log_level="WARNING",
    )


@pytest.mark.parametrize(("name", "value"), [
    ("KAFKA_BROKERS", "kafka"),
    ("KAFKA_BROKERS", "kafka:port"),
    ("KAFKA_BROKERS", ":9092"),
    ("KAFKA_BROKERS", "kafka:0"),
    ("KAFKA_ACK_TIMEOUT_SECONDS", "0"),
    ("KAFKA_ACK_TIMEOUT_SECONDS", "soon"),
    ("KAFKA_LINGER_MS", "-1"),
    ("KAFKA_LINGER_MS", "5000"),
    ("KAFKA_CONSUMER_THREADS", "0"),
    ("KAFKA_TOPIC_PARTITIONS", "-1"),
    ("KAFKA_HEARTBEAT_INTERVAL_MS", "6000"),
    ("KAFKA_DEDUPE_WINDOW", "-1"),
    ("CONSUME_EVENTS", "maybe"),
    ("KAFKA_CLIENT_LOG_LEVEL", "loud"),
])
def test_a_bad_value_names_the_variable_and_the_value(name, value):
    with pytest.raises(ConfigError) as raised:
        Config.from_env({name: value})
    assert f"{name}={value!r}" in str(raised.value)


def _gunicorn(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PORT": str(free_port()), "BIND_HOST": "127.0.0.1",
               "KAFKA_BROKERS": f"127.0.0.1:{free_port()}", **env}
    return subprocess.run([str(GUNICORN), *args, "-c", "python:events_service.gunicorn_conf",
                           "events_service.app:create_app()"],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(("args", "env", "message"), [
    ((), {"GUNICORN_WORKER_CLASS": "tornado"}, "GUNICORN_WORKER_CLASS='tornado' is not supported"),
    ((), {"GUNICORN_WORKER_CLASS": "sync"}, "GUNICORN_WORKER_CLASS='sync' is not supported"),
    ((), {"KAFKA_ACK_TIMEOUT_SECONDS": "-1"}, "invalid KAFKA_ACK_TIMEOUT_SECONDS='-1'"),
])
def test_gunicorn_refuses_what_the_design_does_not_support(args, env, message):
    finished = _gunicorn(*args, **env)
    assert finished.returncode != 0
    assert message in finished.stderr


def test_one_worker_whatever_web_concurrency_says_and_a_warning_when_it_says_otherwise():
    probe = ("import runpy, sys; settings = runpy.run_path('events_service/gunicorn_conf.py'); "
             "print(settings['workers'], settings['worker_class'])")
    environ = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "KAFKA_BROKERS": "127.0.0.1:9", "PORT": "1"}
    plain = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=environ, capture_output=True, text=True,
                           timeout=30, check=True)
    assert (plain.stdout.split(), plain.stderr) == (["1", "gevent"], "")
    told = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**environ, "WEB_CONCURRENCY": "4"},
                          capture_output=True, text=True, timeout=30, check=True)
    assert told.stdout.split() == ["1", "gevent"]
    assert "WEB_CONCURRENCY='4' ignored: one worker per replica" in told.stderr
