"""Mail the desk sends about a ticket: render, draft, apply loop limits, queue.

Everything happens in the caller's transaction: the outbox row, the thread key of the
new Message-ID (stored before the mail is sent, so any reply to it threads) and the
message on the ticket's history are committed together with the change that caused them.
The templates are rendered here (the history keeps the text, and a template reload must
not change queued mail); the MIME is built by the sender (outbox/send.py) from the draft.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.agents.tokens import agent_reply_address
from maildesk.config.model import DeskConfig
from maildesk.mail import loops
from maildesk.mail.addresses import is_desk_address, normalise_address
from maildesk.outbox.compose import AutoSubmitted, Thread, compose
from maildesk.outbox.counts import recent_counts, suppressed_until
from maildesk.outbox.queue import enqueue
from maildesk.runtime.desk import Desk
from maildesk.store.models import Delivery, Message, Outbox, ThreadKey, Ticket
from maildesk.store.queries import add_thread_keys, log_event
from maildesk.types import Attachment, AuthorKind, Direction, OutboxState, Outgoing

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Letter:
    """One mail to send: which template, to whom, in which language, with what."""

    template: str
    to: tuple[str, ...]
    context: Any
    language: str | None = None
    internal: bool = False  # to agents: never part of the customer-visible history
    from_name: str | None = None
    reply_to: str | None = None
    auto: AutoSubmitted | None = None
    attachments: tuple[Attachment, ...] = ()
    exempt_from_limits: bool = False  # agents are people, not robots to loop with
    cc: tuple[str, ...] = ()  # the ticket's participants, on answers to the customer
    agent: str | None = None  # the agent whose answer this is (told if a copy bounces)


def conversation(session: Session, ticket: Ticket, reply_to: str | None = None) -> Thread:
    """Threading headers for a new mail on `ticket`: answer `reply_to` (or the latest mail)."""
    rows = [m for m in session.execute(
        select(Message.message_id).where(Message.ticket_id == ticket.id,
                                         Message.message_id.is_not(None),
                                         Message.internal.is_(False))
        .order_by(Message.created_at, Message.id)).scalars() if m]
    parent = reply_to or (rows[-1] if rows else None)
    references = tuple(rows[:1]) + tuple(r for r in rows[-9:] if r != rows[0]) if rows else ()
    if parent and parent not in references:
        references += (parent,)
    index = session.execute(select(ThreadKey.key).where(
        ThreadKey.ticket_id == ticket.id, ThreadKey.kind == "thread-index")
        .limit(1)).scalar_one_or_none()
    return Thread(in_reply_to=parent, references=references,
                  thread_index=bytes.fromhex(index) if index else None, topic=ticket.subject)


def held_back(desk: Desk, session: Session, outgoing: Outgoing, now: datetime,
              recipients: Sequence[str] | None = None) -> str | None:
    """Why the mail may not go (loop limits of `recipients`, by default all of them)."""
    limits = desk.loop_limits
    for recipient in outgoing.recipients if recipients is None else recipients:
        counts = recent_counts(session, recipient, outgoing.ticket_id, now, limits)
        reason = loops.may_send_automatic(recipient, outgoing.ticket_id, now, counts, limits)
        if reason:
            return reason
    return None


def send(desk: Desk, session: Session, ticket: Ticket, letter: Letter, now: datetime,
         thread: Thread | None = None) -> Outbox | None:
    """Compose `letter` on `ticket` and queue it (or record why it was held back)."""
    if not desk.send_mail or not letter.to:
        return None
    brand = desk.config.brand(ticket.brand)
    subject, text, html = desk.templates_for(ticket.brand).render(
        letter.template, letter.language or ticket.language, letter.context)
    if brand and brand.signature and not letter.internal:
        text = f"{text.rstrip()}\n\n-- \n{brand.signature}\n"
    sender = face(desk, ticket)
    cc, dropped = _copies(desk, session, letter, now)
    outgoing = compose(
        kind=letter.template, subject=subject, text=text, html=html, desk=sender,
        ticket_ref=ticket.ref, to=letter.to, now=now,
        thread=thread or conversation(session, ticket), from_name=letter.from_name,
        reply_to=letter.reply_to, attachments=letter.attachments, auto=letter.auto,
        ticket_id=ticket.id, cc=cc, lazy=True)
    reason = None
    if outgoing.automatic and not letter.exempt_from_limits:
        reason = held_back(desk, session, outgoing, now, letter.to)
    state = OutboxState.SUPPRESSED if reason else OutboxState.QUEUED
    row = enqueue(session, outgoing, sender.address, now, state, reason)
    session.flush()
    _deliveries(session, row, letter.to, cc, dropped, reason, now)
    add_thread_keys(session, ticket.id, [outgoing.message_id], "sent")
    _record(session, ticket, outgoing, letter, row, subject, text, now, cc)
    if reason:
        log_event(session, ticket.id, "system", "mail-held",
                  {"kind": outgoing.kind, "to": list(outgoing.recipients)}, reason, at=now)
        log.warning("held back %s to %s on %s: %s", outgoing.kind, outgoing.recipients,
                    ticket.ref, reason)
    return row


def _copies(desk: Desk, session: Session, letter: Letter,
            now: datetime) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """The Cc that may go, and the copies left out with why: a copy is never worth a
    bounce, so a suppressed address (it bounced) or a desk address is dropped alone."""
    to = {normalise_address(a) for a in letter.to}
    kept: list[str] = []
    dropped: list[tuple[str, str]] = []
    for address in dict.fromkeys(normalise_address(a) for a in letter.cc):
        if address in to or address in kept:
            continue
        until = suppressed_until(session, address)
        if is_desk_address(address, desk.config.desk.addresses):
            dropped.append((address, f"{address} is a desk address"))
        elif until is not None and until > now:
            dropped.append((address, f"{address} is suppressed until {until.isoformat()}"))
        else:
            kept.append(address)
    return tuple(kept), dropped


def _deliveries(session: Session, row: Outbox, to: Sequence[str], cc: Sequence[str],
                dropped: Sequence[tuple[str, str]], reason: str | None, now: datetime) -> None:
    """One delivery record per recipient: the send edge and bounces update each alone."""
    state = OutboxState.SUPPRESSED.value if reason else OutboxState.QUEUED.value
    for role, addresses in (("to", to), ("cc", cc)):
        for address in addresses:
            session.add(Delivery(outbox_id=row.id, email=normalise_address(address), role=role,
                                 state=state, error=reason, updated_at=now))
    for address, why in dropped:
        session.add(Delivery(outbox_id=row.id, email=address, role="cc",
                             state=OutboxState.SUPPRESSED.value, error=why, updated_at=now))


def face(desk: Desk, ticket: Ticket) -> DeskConfig:
    """Who the desk is on this ticket's mail: its brand's name, address and language,
    or the [desk] itself. The brand's addresses come first, the desk's stay known."""
    brand = desk.config.brand(ticket.brand)
    if brand is None:
        return desk.config.desk
    own = dict.fromkeys((*brand.addresses, *desk.config.desk.addresses))
    return replace(desk.config.desk, name=brand.display_name, addresses=tuple(own),
                   language=brand.language or desk.config.desk.language)


def _record(session: Session, ticket: Ticket, outgoing: Outgoing, letter: Letter, row: Outbox,
            subject: str, text: str, now: datetime, cc: Sequence[str] = ()) -> None:
    """The sent mail in the ticket's history; agent-only mail is marked internal."""
    to = [r for r in outgoing.recipients if r not in cc]
    session.add(Message(
        ticket_id=ticket.id, raw_id=None, message_id=outgoing.message_id,
        direction=Direction.OUT, kind=AuthorKind.SYSTEM if outgoing.automatic else
        AuthorKind.AGENT, from_addr=row.sender, from_name=letter.from_name or "",
        to_addrs=to, cc_addrs=list(cc), subject=subject, text=text,
        html=None, date=now, created_at=now, thread_method="new", internal=letter.internal,
        outbox_id=row.id, agent=letter.agent))


def customer_letter(desk: Desk, ticket: Ticket, customer_email: str, template: str,
                    context: Any, **kwargs: Any) -> Letter:
    return Letter(template=template, to=(customer_email,), context=context,
                  language=ticket.language or face(desk, ticket).language, **kwargs)


def agent_letters(desk: Desk, ticket: Ticket, recipients: Sequence[str], template: str,
                  context_for: Any) -> list[Letter]:
    """One letter per agent, each with its own signed Reply-To back to the ticket."""
    letters = []
    for email in recipients:
        agent = desk.ruleset.agent_for(email)
        letters.append(Letter(
            template=template, to=(email,), context=context_for(agent), internal=True,
            language=getattr(agent, "language", None) or desk.config.desk.language,
            reply_to=agent_reply_address(desk.secret(), desk.config.desk.address, ticket.ref,
                                         email),
            exempt_from_limits=True))
    return letters
