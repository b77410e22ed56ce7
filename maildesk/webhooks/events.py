"""Pure: which desk events a webhook reports, and the JSON body it sends.

The desk's event log (store.queries.log_event) names what happened in its own words;
this table turns those into the public event types of docs/api.md. One logged event is
one webhook event at most.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# event-log action -> webhook event type
TYPES: dict[str, str] = {
    "created": "ticket.created",
    "threaded": "message.received",
    "status": "ticket.status_changed",
    "reopened": "ticket.status_changed",
    "assigned": "ticket.updated",
    "priority": "ticket.updated",
    "type": "ticket.updated",
    "tags": "ticket.updated",
    "escalated": "ticket.updated",
    "note": "ticket.updated",
    "agent-mail": "ticket.updated",
    "agent-cli": "ticket.updated",
    "macro": "ticket.updated",
    "time": "ticket.updated",
    **{repair: "ticket.updated" for repair in ("merged", "merged-in", "unmerged", "split",
                                              "split-from", "moved-in", "moved-out")},
    "sla-warning": "sla.warning",
    "sla-breach": "sla.breached",
    "satisfaction": "survey.answered",
}
MESSAGE_SENT = "message.sent"  # not an event-log action: an outbox row marked sent


def event_type(action: str) -> str | None:
    return TYPES.get(action)


def body(kind: str, at: datetime, actor: str, ticket: Mapping[str, Any] | None,
         data: Mapping[str, Any]) -> tuple[str, str]:
    """(event id, the JSON text to send): fixed once, so every retry sends the same bytes."""
    event_id = f"evt_{uuid.uuid4().hex}"
    payload = {"id": event_id, "type": kind, "created_at": at.isoformat(), "actor": actor,
               "ticket": dict(ticket) if ticket is not None else None, "data": dict(data)}
    return event_id, json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
