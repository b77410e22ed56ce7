"""Participants: the people besides the customer who take part in a ticket.

A colleague copied on the customer's mail keeps receiving the conversation: answers to
the customer go To the customer and Cc the active participants ([participants]
cc_on_answers). They come from the To/Cc of the customer side's mail, minus the desk's
own addresses, agents, machine senders, the excluded domains and beyond the cap; from an
agent's own Cc on a reply; and from `#cc add` or `maildesk tickets cc REF add`.

A removed participant keeps a row (removed_at), so mail that still copies them does not
add them back behind the agent's back; only an agent's explicit add does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.config.model import ParticipantsConfig
from maildesk.mail.addresses import is_desk_address, normalise_address
from maildesk.mail.loops import MACHINE_LOCAL
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Participant, Ticket
from maildesk.store.queries import log_event
from maildesk.types import Address

log = logging.getLogger(__name__)

# Where a participant came from (Participant.source).
FROM_MAIL = "mail"  # To/Cc of the customer side's mail
AGENT_CC = "agent-cc"  # an agent copied them on a reply
BY_AGENT = "agent"  # #cc add, or the CLI


def refusal(email: str, desk: Desk, customer_email: str = "") -> str | None:
    """Why `email` can never be a participant, or None. Pure apart from the snapshot."""
    email = normalise_address(email)
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain:
        return f"{email} is not an e-mail address"
    if email == customer_email:
        return f"{email} is the ticket's customer"
    if is_desk_address(email, desk.config.desk.addresses):
        return f"{email} is a desk address"
    if desk.ruleset.agent_for(email) is not None:
        return f"{email} is an agent"
    if MACHINE_LOCAL.match(local):
        return f"{email} is a machine address"
    if excluded_domain(domain, desk.config.participants):
        return f"{email}: the domain {domain} is never added"
    return None


def excluded_domain(domain: str, settings: ParticipantsConfig) -> bool:
    """The domain or a parent of it is listed in [participants] excluded_domains."""
    return any(domain == d or domain.endswith("." + d) for d in settings.excluded_domains)


def rows(session: Session, ticket_id: int) -> list[Participant]:
    """Every participant row of the ticket, active and removed, in the order added."""
    return list(session.scalars(select(Participant).where(Participant.ticket_id == ticket_id)
                                .order_by(Participant.added_at, Participant.id)))


def active(session: Session, ticket_id: int) -> list[Participant]:
    return [p for p in rows(session, ticket_id) if p.removed_at is None]


def is_participant(session: Session, ticket_id: int, email: str) -> bool:
    email = normalise_address(email)
    return any(p.email == email for p in active(session, ticket_id))


def copies(desk: Desk, session: Session, ticket: Ticket) -> tuple[str, ...]:
    """The Cc of an answer to the customer: the active participants, if the desk says so."""
    if not desk.config.participants.cc_on_answers:
        return ()
    customer = session.get(Contact, ticket.customer_id)
    skip = customer.email if customer else ""
    return tuple(p.email for p in active(session, ticket.id) if p.email != skip)


def add(desk: Desk, session: Session, ticket: Ticket, who: Address, *, actor: str,
        source: str, now: datetime, reason: str = "") -> str | None:
    """Add `who` (an agent's add also brings back a removed one); None, or why not."""
    customer = session.get(Contact, ticket.customer_id)
    email = normalise_address(who.email)
    why = refusal(email, desk, customer.email if customer else "")
    if why:
        return why
    existing = next((p for p in rows(session, ticket.id) if p.email == email), None)
    if existing is not None and existing.removed_at is None:
        return None
    if existing is not None:
        if source == FROM_MAIL:
            return f"{email} was removed by {existing.removed_by}"
        existing.removed_at, existing.removed_by = None, None
        existing.source, existing.added_by, existing.added_at = source, actor, now
        existing.name = who.name or existing.name
    else:
        session.add(Participant(ticket_id=ticket.id, email=email, name=who.name or "",
                                source=source, added_by=actor, added_at=now))
        session.flush()
    log_event(session, ticket.id, actor, "participant-added",
              {"email": email, "name": who.name, "source": source}, reason, at=now)
    log.info("participant %s added to %s by %s (%s)", email, ticket.ref, actor, source)
    return None


def remove(session: Session, ticket: Ticket, email: str, *, actor: str,
           now: datetime) -> bool:
    """Stop copying `email` on the ticket's mail; False when they were not taking part."""
    email = normalise_address(email)
    row = next((p for p in active(session, ticket.id) if p.email == email), None)
    if row is None:
        return False
    row.removed_at, row.removed_by = now, actor
    log_event(session, ticket.id, actor, "participant-removed", {"email": email}, at=now)
    log.info("participant %s removed from %s by %s", email, ticket.ref, actor)
    return True


def add_from_mail(desk: Desk, session: Session, ticket: Ticket, people: Iterable[Address],
                  *, actor: str, now: datetime, source: str = FROM_MAIL) -> list[str]:
    """Add the people of a mail up to [participants] max_participants; the emails added.

    The cap binds what mail adds on its own; addresses left out are logged once per mail.
    """
    cap = desk.config.participants.max_participants
    customer = session.get(Contact, ticket.customer_id)
    known = {p.email for p in rows(session, ticket.id)}
    added, over = [], []
    for who in dict.fromkeys(people):
        email = normalise_address(who.email)
        if email in known or refusal(email, desk, customer.email if customer else ""):
            continue
        if source == FROM_MAIL and len(active(session, ticket.id)) >= cap:
            over.append(email)
            continue
        if add(desk, session, ticket, who, actor=actor, source=source, now=now) is None:
            added.append(email)
            known.add(email)
    if over:
        log_event(session, ticket.id, "system", "participants-capped", {"left_out": over},
                  f"[participants] max_participants is {cap}", at=now)
    return added


def of_mail(to: Sequence[Address], cc: Sequence[Address],
            sender: Address | None = None) -> list[Address]:
    """Pure: the people a mail names, sender first, each address once."""
    seen: dict[str, Address] = {}
    for who in ((sender,) if sender else ()) + tuple(to) + tuple(cc):
        email = normalise_address(who.email)
        if email and email not in seen:
            seen[email] = Address(email, who.name)
    return list(seen.values())
