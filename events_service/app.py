"""Application factory of the events service."""

from __future__ import annotations

import atexit
import functools
import logging

from flask import Flask

from cinema_common.webapp import new_app
from events_service import api, broker, consumer, eventlog, health, metrics, producer
from events_service.config import Config

log = logging.getLogger(__name__)
_SHUTDOWN = "events.shutdown"
# Event bodies are small; this keeps every record far below Kafka's 1 MiB message limit.
MAX_BODY_BYTES = 64 * 1024


def create_app(config: Config | None = None) -> Flask:
    """Build the events service and start its broker watch and consumer threads.

    gunicorn calls this once, in the replica's one worker (see gunicorn_conf.py); nothing
    here waits for Kafka, so the service starts and answers 503 while the broker is away.
    """
    config = config or Config.from_env()
    app = new_app(__name__, max_body_bytes=MAX_BODY_BYTES)
    app.config["SETTINGS"] = config
    logging.getLogger("kafka").setLevel(config.kafka_client_log_level)
    event_metrics = metrics.init_app(app)
    watch = broker.init_app(app, event_metrics)
    producer.init_app(app, event_metrics, watch)
    events = eventlog.init_app(app, event_metrics)
    threads = consumer.init_app(app, watch, events)
    event_metrics.watch_lag(lambda: [triple for thread in threads for triple in thread.lag()])
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)

    watch.start()
    for thread in threads:
        thread.start()
    # gunicorn's worker_exit hook calls shutdown; atexit covers every other way of running the app.
    stop = functools.partial(shutdown, app)
    app.extensions[_SHUTDOWN] = stop
    atexit.register(stop)
    return app


def shutdown(app: Flask, timeout: float = 10.0) -> None:
    """Stop cleanly: consumers finish their batch, commit and leave the group; the producer flushes and closes.

    Safe to call more than once; later calls do nothing.
    """
    stop = app.extensions.pop(_SHUTDOWN, None)
    if stop is None:
        return
    atexit.unregister(stop)
    threads = consumer.consumers_of(app)
    for thread in threads:
        thread.request_stop()
    for thread in threads:
        thread.join(timeout)
    producer.publisher_of(app).close()
    broker.broker_of(app).stop()
    log.info("events service stopped", extra={"consumed": sum(thread.consumed for thread in threads)})
