"""Wait until every given URL answers: http(s) URLs with 200, tcp://host:port by accepting a connection."""

from __future__ import annotations

import argparse
import socket
import sys
import time
import urllib.error
import urllib.request


def answers(url: str) -> bool:
    """Tell whether ``url`` answers right now."""
    if url.startswith("tcp://"):
        host, _, port = url.removeprefix("tcp://").rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                return True
        except OSError:
            return False
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"not an http(s):// or tcp:// URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - scheme checked above
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m devstack.wait``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--quiet", action="store_true", help="print nothing once every URL answers")
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    pending = list(args.urls)
    while pending:
        pending = [url for url in pending if not answers(url)]
        if pending and time.monotonic() > deadline:
            print(f"not healthy after {args.timeout:g}s: {' '.join(pending)}", file=sys.stderr)
            return 1
        if pending:
            time.sleep(0.5)
    if not args.quiet:
        print(f"healthy: {' '.join(args.urls)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
