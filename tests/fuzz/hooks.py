"""Schemathesis hooks: the one request rule that JSON Schema cannot state.

A subscription may not end before it starts (400). The schema can only describe each
date alone, so half of the generated valid subscriptions would be refused and the
``positive_data_acceptance`` check would blame the server for a rule the spec does
state in prose. Ordering the two dates keeps that check on for everything else.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from cinema_common.jsonbody import parse_timestamp


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
