"""Read-only views of tickets for the CLI and the JSON output (`tickets show --json`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.store.models import AttachmentRow, Contact, Event, Message, Ticket, TimeEntry
from maildesk.types import Direction


class Author(StrEnum):
    """Who wrote a message, as the customer's status page says it."""

    CUSTOMER = "customer"  # the ticket's customer: "You"
    DESK = "desk"  # the desk's own mail, including agents' answers
    OTHER = "other"  # anyone else who wrote in (a colleague, or a stranger by References)


def public_author(message: Message, customer_email: str) -> Author:
    """Truthful authorship: only the customer's own address is "You"."""
    if message.direction == Direction.OUT.value:
        return Author.DESK
    if message.from_addr.lower() == customer_email.lower():
        return Author.CUSTOMER
    return Author.OTHER


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_summary(ticket: Ticket, customer: Contact | None) -> dict[str, Any]:
    return {
        "ref": ticket.ref, "status": ticket.status, "type": ticket.type,
        "priority": ticket.priority, "queue": ticket.queue, "team": ticket.team,
        "tier": ticket.tier, "assignee": ticket.assignee,
        "customer": customer.email if customer else None,
        "organisation": ticket.organisation, "subject": ticket.subject, "tags": ticket.tags,
        "channel": ticket.channel, "brand": ticket.brand, "spam": ticket.spam,
        "created_at": _iso(ticket.created_at), "updated_at": _iso(ticket.updated_at),
        "first_response_at": _iso(ticket.first_response_at),
        "resolved_at": _iso(ticket.resolved_at), "closed_at": _iso(ticket.closed_at),
    }


def message_view(message: Message, attachments: list[AttachmentRow]) -> dict[str, Any]:
    return {
        "message_id": message.message_id, "direction": message.direction,
        "kind": message.kind, "from": message.from_addr, "from_name": message.from_name,
        "to": message.to_addrs, "cc": message.cc_addrs, "subject": message.subject,
        "text": message.text, "date": _iso(message.date or message.created_at),
        "threaded_by": message.thread_method, "weak_match": message.weak_match,
        "flagged": message.flagged, "flag_reason": message.flag_reason,
        "internal": message.internal,
        "attachments": [{"filename": a.filename, "content_type": a.content_type,
                         "size": a.size, "sha256": a.sha256, "inline": a.inline}
                        for a in attachments],
    }


def ticket_detail(session: Session, ticket: Ticket) -> dict[str, Any]:
    view = ticket_summary(ticket, session.get(Contact, ticket.customer_id))
    messages = session.execute(select(Message).where(Message.ticket_id == ticket.id)
                               .order_by(Message.created_at, Message.id)).scalars().all()
    files = session.execute(select(AttachmentRow).where(
        AttachmentRow.message_id.in_([m.id for m in messages]))).scalars().all()
    by_message: dict[int, list[AttachmentRow]] = {}
    for row in files:
        by_message.setdefault(row.message_id, []).append(row)
    events = session.execute(select(Event).where(Event.ticket_id == ticket.id)
                             .order_by(Event.at, Event.id)).scalars().all()
    view["messages"] = [message_view(m, by_message.get(m.id, [])) for m in messages]
    evidence = {e.detail.get("message"): e.detail.get("evidence", "")
                for e in events if e.action == "threaded" and isinstance(e.detail, dict)}
    for message, shown in zip(messages, view["messages"], strict=True):
        shown["evidence"] = evidence.get(message.id, "")
    related = session.get(Ticket, ticket.related_ticket_id) if ticket.related_ticket_id else None
    view["related"] = related.ref if related else None
    merged = session.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None
    view["merged_into"] = merged.ref if merged else None
    view["sla"] = {"response_due_at": _iso(ticket.response_due_at),
                   "resolution_due_at": _iso(ticket.resolution_due_at),
                   "response_breached_at": _iso(ticket.response_breached_at),
                   "resolution_breached_at": _iso(ticket.resolution_breached_at),
                   "escalation_level": ticket.escalation_level}
    view["satisfaction"] = ({"score": ticket.satisfaction_score,
                             "comment": ticket.satisfaction_comment,
                             "at": _iso(ticket.satisfaction_at)}
                            if ticket.satisfaction_score is not None else None)
    view["events"] = [{"at": _iso(e.at), "actor": e.actor, "action": e.action,
                       "detail": e.detail, "reason": e.reason} for e in events]
    view["time_spent_minutes"] = int(session.execute(
        select(func.coalesce(func.sum(TimeEntry.minutes), 0))
        .where(TimeEntry.ticket_id == ticket.id)).scalar_one())
    return view
