"""What keeps a migration safe, per worker: the split in force, the guard, the shadow runner, the traffic history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy_service.forwarding import request_headers, request_target
from proxy_service.guard import Guard
from proxy_service.routing import MONOLITH, MOVIES
from proxy_service.shadow import MirrorJob, Served, ShadowRunner
from proxy_service.split import SplitController
from proxy_service.traffic_history import TrafficHistory
from proxy_service.upstream import Response


@dataclass(frozen=True)
class MigrationSafety:
    """The gateway's migration tools and the port of its admin endpoints."""

    split: SplitController
    guard: Guard
    shadow: ShadowRunner
    history: TrafficHistory
    admin_port: int

    def mirror(self, route: str, environ: dict[str, Any], request_id: str, response: Response, *, served_by: str,
               host_header_of: dict[str, str], ignore: tuple[str, ...]) -> None:
        """Hand a copy of a served movies GET to the shadow runner, for the backend that did not serve it."""
        other = MONOLITH if served_by == MOVIES else MOVIES
        headers = request_headers(environ, host_header_of[other], request_id, 0)
        encoding = next((value for name, value in response.headers if name.lower() == "content-encoding"), None)
        served = Served(served_by, response.status, response.body, encoding)
        self.shadow.mirror(MirrorJob(route, request_target(environ), headers, served, other, frozenset(ignore)))

    def close(self) -> None:
        """Stop the background work: snapshots and mirrored requests."""
        self.history.stop()
        self.shadow.close()
