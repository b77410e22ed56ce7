"""Read-only views of tickets for the CLI and the JSON output (`tickets show --json`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.store.models import (
    AttachmentRow,
    Contact,
    Delivery,
    Event,
    Message,
    Outbox,
    Participant,
    Ticket,
    TimeEntry,
)
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


def participant_view(row: Participant) -> dict[str, Any]:
    return {"email": row.email, "name": row.name, "source": row.source,
            "added_by": row.added_by, "added_at": _iso(row.added_at),
            "active": row.removed_at is None, "removed_at": _iso(row.removed_at),
            "removed_by": row.removed_by}


def author_role(message: Message, customer_email: str, participants: set[str]) -> str:
    """Whose words these are: customer, participant, agent, desk or other (a stranger)."""
    if message.direction == Direction.OUT.value:
        return "agent" if message.agent else "desk"
    if message.kind in ("agent", "note"):
        return "agent"
    sender = message.from_addr.lower()
    if sender == customer_email.lower():
        return "customer"
    return "participant" if sender in participants else "other"


def deliveries_of(session: Session, messages: list[Message]) -> dict[int, list[dict[str, Any]]]:
    """Per outbox row: who the mail went to and what became of it, recipient by recipient.

    Rows written before delivery records existed are shown from the row itself.
    """
    ids = [m.outbox_id for m in messages if m.outbox_id is not None]
    rows = {row.id: row for row in session.scalars(select(Outbox).where(Outbox.id.in_(ids)))}
    found: dict[int, list[dict[str, Any]]] = {}
    for record in session.scalars(select(Delivery).where(Delivery.outbox_id.in_(ids))
                                  .order_by(Delivery.id)):
        row_state = rows[record.outbox_id].state if record.outbox_id in rows else None
        # A mail held back or dropped as a whole (a collision) never reached its queue.
        state = row_state if record.state == "queued" and row_state in ("held", "dropped") \
            else record.state
        found.setdefault(record.outbox_id, []).append(
            {"address": record.email, "role": record.role, "state": state,
             "error": record.error, "at": _iso(record.updated_at)})
    for row in rows.values():
        if row.id not in found:
            found[row.id] = [{"address": a, "role": "to", "state": row.state,
                              "error": row.last_error, "at": _iso(row.sent_at)}
                             for a in row.recipients or []]
    return found


def ticket_detail(session: Session, ticket: Ticket) -> dict[str, Any]:
    customer = session.get(Contact, ticket.customer_id)
    view = ticket_summary(ticket, customer)
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
    people = session.scalars(select(Participant).where(Participant.ticket_id == ticket.id)
                             .order_by(Participant.added_at, Participant.id)).all()
    view["participants"] = [participant_view(p) for p in people]
    active = {p.email for p in people}  # who took part, removed or not, for authorship
    sent = deliveries_of(session, list(messages))
    for message, shown in zip(messages, view["messages"], strict=True):
        shown["author_role"] = author_role(message, customer.email if customer else "", active)
        if message.direction == Direction.OUT.value and message.outbox_id is not None:
            shown["deliveries"] = sent.get(message.outbox_id, [])
            shown["delivered_to"] = [d["address"] for d in shown["deliveries"]
                                     if d["state"] == "sent"]
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
