"""The read side of the API: ticket pages with filters and cursors, search, one ticket.

Pages run newest first by ticket id; the cursor is the last id of a page, opaque to the
client (base64url), so tickets opened while a client pages do not shift what it sees.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from maildesk.mail.addresses import normalise_address
from maildesk.store.models import Contact, Message, Ticket
from maildesk.tickets.views import ticket_detail, ticket_summary


@dataclass(frozen=True, slots=True)
class Filters:
    statuses: tuple[str, ...] = ()
    queue: str | None = None
    assignee: str | None = None  # "none": unassigned
    customer: str | None = None
    updated_since: datetime | None = None
    q: str | None = None


def encode_cursor(ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"t:{ticket_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The ticket id a cursor stands for, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, _, value = text.partition(":")
    return int(value) if kind == "t" and value.isdigit() else None


def _like(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(query: Any, f: Filters) -> Any:
    if f.statuses:
        query = query.where(Ticket.status.in_(f.statuses))
    if f.queue:
        query = query.where(Ticket.queue == f.queue)
    if f.assignee:
        query = query.where(Ticket.assignee.is_(None) if f.assignee == "none"
                            else Ticket.assignee == normalise_address(f.assignee))
    if f.customer:
        query = query.where(Contact.email == normalise_address(f.customer))
    if f.updated_since:
        query = query.where(Ticket.updated_at >= f.updated_since)
    if f.q:
        query = query.where(_matches(f.q))
    return query


def _matches(words: str) -> Any:
    """Words in the subject, the reference, the customer's address or name, or any message."""
    pattern = _like(words.strip())
    in_messages = select(Message.ticket_id).where(
        or_(Message.text.ilike(pattern, escape="\\"), Message.subject.ilike(pattern, escape="\\")))
    if not words.strip():
        return false()
    return or_(Ticket.subject.ilike(pattern, escape="\\"), Ticket.ref == words.strip().upper(),
               Contact.email.ilike(pattern, escape="\\"), Contact.name.ilike(pattern, escape="\\"),
               Ticket.id.in_(in_messages))


def page(session: Session, f: Filters, limit: int, after: int | None
         ) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ticket summaries and the cursor of the next (None at the end)."""
    query = _filtered(select(Ticket, Contact).join(Contact, Contact.id == Ticket.customer_id), f)
    if after is not None:
        query = query.where(Ticket.id < after)
    rows = session.execute(query.order_by(Ticket.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1][0].id) if more and rows else None
    return [ticket_summary(t, c) for t, c in rows], cursor


def find(session: Session, ref: str) -> Ticket | None:
    return session.execute(select(Ticket).where(Ticket.ref == ref.strip().upper())
                           ).scalar_one_or_none()


def detail(session: Session, ref: str) -> dict[str, Any] | None:
    """The same view as `maildesk tickets show --json`."""
    ticket = find(session, ref)
    return ticket_detail(session, ticket) if ticket else None
