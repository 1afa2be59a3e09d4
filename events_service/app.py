"""Application factory of the events service."""

from __future__ import annotations

import atexit
import functools
import logging
from collections.abc import Callable

from flask import Flask

from cinema_common.webapp import new_app
from events_service import api, broker, consumer, health, metrics, producer, shared
from events_service.config import Config
from events_service.lease import ConsumerLease

log = logging.getLogger(__name__)
_SHUTDOWN = "events.shutdown"
_LEASE = "events.lease"
# Event bodies are small; this keeps every record far below Kafka's 1 MiB message limit.
MAX_BODY_BYTES = 64 * 1024


def create_app(config: Config | None = None) -> Flask:
    """Build the events service; start its broker watch, and its consumers once it holds the replica's lease.

    gunicorn calls this once in each worker (see gunicorn_conf.py); nothing here waits for
    Kafka, so the service starts and answers 503 while the broker is away.
    """
    config = config or Config.from_env()
    app = new_app(__name__, max_body_bytes=MAX_BODY_BYTES)
    app.config["SETTINGS"] = config
    logging.getLogger("kafka").setLevel(config.kafka_client_log_level)
    event_metrics = metrics.init_app(app)
    watch = broker.init_app(app, event_metrics)
    publisher = producer.init_app(app, event_metrics, watch)
    state = shared.init_app(app)
    workers = consumer.init_app(app, event_metrics, watch, state)
    lease = ConsumerLease(state.path.parent, workers)
    app.extensions[_LEASE] = lease
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)

    watch.when_ready(publisher.connect)
    watch.when_recreated(publisher.start_over)
    watch.start()
    lease.start()
    consumer.reporter_of(app).start()
    # gunicorn's worker_exit hook calls shutdown; atexit covers every other way of running the app.
    stop = functools.partial(shutdown, app)
    app.extensions[_SHUTDOWN] = stop
    atexit.register(stop)
    return app


def serving_while(app: Flask, serving: Callable[[], bool]) -> None:
    """Let this worker take over the replica's consumers only while ``serving()`` is true.

    gunicorn_conf.py passes its worker's ``alive`` flag, which SIGTERM clears at once: a worker
    that is stopping must not start consumers just because the owner stopped first.
    """
    app.extensions[_LEASE].may_take = serving


def shutdown(app: Flask, timeout: float = 10.0) -> None:
    """Stop cleanly: consumers finish their batch, commit and leave the group; the producer flushes and closes.

    Safe to call more than once; later calls do nothing.
    """
    stop = app.extensions.pop(_SHUTDOWN, None)
    if stop is None:
        return
    atexit.unregister(stop)
    lease = app.extensions[_LEASE]
    lease.stop()
    workers = consumer.consumers_of(app)
    for worker in workers:
        worker.request_stop()
    for worker in workers:
        worker.join(timeout)
    consumer.reporter_of(app).stop()
    lease.release()
    shared.close(app)
    producer.publisher_of(app).close()
    broker.broker_of(app).stop()
    log.info("events service stopped", extra={"consumed": sum(worker.consumed for worker in workers)})
