"""What the desk holds about one person, found once for export and erasure.

A person is an e-mail address. What belongs to them: their contact, the tickets they are
the customer of (every message on those, since the whole conversation is theirs), the
mail they sent on other tickets, the raw bytes of all that mail and of their mail that
never became a message (quarantined, ignored), the attachments, the mail the desk sent
them, and the events that name them. Other people's tickets where they only appear (in
Cc, as a watcher) are "mentions": kept, with the address replaced.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, cast, or_, select
from sqlalchemy.orm import Session

from maildesk.mail.addresses import normalise_address
from maildesk.store.models import Contact, Event, Message, Outbox, RawMessage, Ticket
from maildesk.types import RawState

PSEUDONYM_DOMAIN = "erased.invalid"


def pseudonym(secret: bytes, email: str) -> str:
    """A stable stand-in for an address: the same person always gets the same one (so
    reports still count one customer), and it cannot be turned back without the key."""
    digest = hmac.new(secret, normalise_address(email).encode(), hashlib.sha256).hexdigest()
    return f"erased-{digest[:16]}@{PSEUDONYM_DOMAIN}"


@dataclass(frozen=True, slots=True)
class Holdings:
    email: str
    contact: Contact | None
    tickets: tuple[Ticket, ...]  # they are the customer
    messages: tuple[Message, ...]  # on their tickets, and theirs on other tickets
    raw: tuple[RawMessage, ...]
    outbox: tuple[Outbox, ...]  # mail sent to them
    events: tuple[Event, ...]  # on their tickets or naming them elsewhere
    mentions: tuple[Ticket, ...]  # other people's tickets that name them

    @property
    def empty(self) -> bool:
        return self.contact is None and not (self.messages or self.raw or self.outbox
                                             or self.events or self.mentions)


def _like(column: Any, email: str) -> ColumnElement[bool]:
    return cast(column, String).ilike(f"%{email}%")


def find(session: Session, email: str) -> Holdings:
    email = normalise_address(email)
    contact = session.execute(select(Contact).where(Contact.email == email)).scalar_one_or_none()
    tickets = tuple(session.execute(select(Ticket).where(
        Ticket.customer_id == contact.id).order_by(Ticket.id)).scalars()) if contact else ()
    own_ids = [t.id for t in tickets]
    messages = tuple(session.execute(select(Message).where(or_(
        Message.ticket_id.in_(own_ids), Message.from_addr == email))
        .order_by(Message.created_at, Message.id)).scalars())
    raw_ids = {m.raw_id for m in messages if m.raw_id is not None}
    raw = tuple(session.execute(select(RawMessage).where(or_(
        RawMessage.id.in_(raw_ids), RawMessage.envelope_from == email))
        .order_by(RawMessage.id)).scalars())
    raw += _unlinked_raw(session, email, {r.id for r in raw})
    outbox = tuple(session.execute(select(Outbox).where(or_(
        Outbox.ticket_id.in_(own_ids), Outbox.to_addr == email, _like(Outbox.recipients, email)))
        .order_by(Outbox.id)).scalars())
    events = tuple(session.execute(select(Event).where(or_(
        Event.ticket_id.in_(own_ids), Event.actor == email, _like(Event.detail, email),
        Event.reason.ilike(f"%{email}%"))).order_by(Event.at, Event.id)).scalars())
    mentions = tuple(session.execute(select(Ticket).where(
        Ticket.id.not_in(own_ids), or_(_like(Ticket.watchers, email), Ticket.id.in_(
            select(Message.ticket_id).where(or_(_like(Message.to_addrs, email),
                                                _like(Message.cc_addrs, email),
                                                Message.from_addr == email))))))
        .scalars())
    return Holdings(email, contact, tickets, messages, raw, outbox, events, mentions)


def _unlinked_raw(session: Session, email: str, seen: set[int]) -> tuple[RawMessage, ...]:
    """Their mail that never became a message (quarantined, ignored, not yet processed):
    few rows, so their bytes are searched here rather than in SQL."""
    needle = email.encode()
    rows = session.execute(select(RawMessage).where(
        RawMessage.state != str(RawState.PROCESSED), RawMessage.id.not_in(seen or {0})))
    return tuple(r for r in rows.scalars() if needle in (r.data or b"").lower())
