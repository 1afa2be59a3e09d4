"""Schemathesis hooks: what openapi.yaml says in prose rather than in JSON Schema.

- A subscription may not end before it starts (400). The schema can only describe each
  date alone, so half of the generated valid subscriptions would be refused and the
  ``positive_data_acceptance`` check would blame the server for a rule the spec states in
  prose. Ordering the two dates keeps that check on for everything else.
- Parameters marked ``x-gateway-only`` (``X-Migration-Target``, ``X-User-Id``) are read by
  the gateway alone; a backend fuzzed directly ignores them, as the spec says, so they
  are left out of every run but the gateway's (``FUZZ_SERVICE``, set by run.py).
- gunicorn answers a few malformed requests itself with a ``text/html`` page; the spec
  describes it as a string starting ``<html>``, and a deserializer hands schemathesis the
  page's text so that description is checked too.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from cinema_common.jsonbody import parse_timestamp


@schemathesis.hook
def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    """Drop the gateway-only parameters unless the gateway is the service under test."""
    if os.environ.get("FUZZ_SERVICE") == "gateway":
        return
    shared = raw_schema.get("components", {}).get("parameters", {})
    gateway_only = {f"#/components/parameters/{name}" for name, parameter in shared.items()
                    if parameter.get("x-gateway-only")}
    for item in raw_schema.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [parameter for parameter in operation["parameters"]
                                           if parameter.get("$ref") not in gateway_only]


@schemathesis.hook("map_body").apply_to(method="POST", path="/api/subscriptions")
def order_subscription_dates(context: schemathesis.HookContext, body: Any) -> Any:
    """Swap ``start_date`` and ``end_date`` when both parse and the end comes first."""
    if not isinstance(body, dict):
        return body
    start, end = body.get("start_date"), body.get("end_date")
    if not (isinstance(start, str) and isinstance(end, str)):
        return body
    parsed_start, parsed_end = parse_timestamp(start), parse_timestamp(end)
    if parsed_start and parsed_end and parsed_end < parsed_start:
        return {**body, "start_date": end, "end_date": start}
    return body


@schemathesis.deserializer("text/html")
def html_page(context: schemathesis.DeserializationContext, response: Any) -> str:
    """Return gunicorn's error page as text, for the spec's ``GunicornPage`` string schema.

    :raises ValueError: when the page is not text.
    """
    try:
        return response.content.decode(response.encoding or "latin-1")
    except UnicodeDecodeError as error:
        raise ValueError(f"an HTML page that is not text: {error}") from None
