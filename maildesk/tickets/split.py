"""Split mail off a ticket into a new one, or move one message to another ticket.

Split: message M (and, with `following`, every message after it) becomes a new ticket
whose customer is M's author, linked to the old ticket (related_ticket_id), classified
and routed by the rules as if M had just arrived (without acknowledgement: the desk
sends no customer mail for a repair). Move: one message changes ticket. In both, the
message's own Message-ID goes along, so later replies to it thread where it now is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maildesk.mail.parse import parse
from maildesk.mail.subject import strip_prefixes
from maildesk.rules import RuleContext, evaluate
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Message, RawMessage, ThreadKey, Ticket
from maildesk.store.queries import get_or_create_contact, log_event
from maildesk.tickets import operations as tickets
from maildesk.tickets.merge import RepairRefused
from maildesk.tickets.threader import organisation_of
from maildesk.types import Address, AuthorKind, Decision, Direction, ParsedMail, TicketStatus


@dataclass(frozen=True, slots=True)
class Split:
    old: str
    new: str
    messages: int
    assignee: str | None
    team: str | None


def find_message(session: Session, message_id: str) -> Message | None:
    """A stored message by its Message-ID (angle brackets optional)."""
    mid = message_id.strip().strip("<>")
    return session.execute(select(Message).where(Message.message_id == mid)
                           .order_by(Message.id).limit(1)).scalar_one_or_none()


def _on(session: Session, ticket: Ticket) -> list[Message]:
    return list(session.execute(select(Message).where(Message.ticket_id == ticket.id)
                                .order_by(Message.created_at, Message.id)).scalars())


def _move_rows(session: Session, messages: list[Message], ticket: Ticket) -> None:
    """The messages and the thread keys of their own Message-IDs go to `ticket`."""
    ids = [m.id for m in messages]
    keys = [m.message_id for m in messages if m.message_id]
    old = {m.ticket_id for m in messages}
    session.execute(update(Message).where(Message.id.in_(ids)).values(ticket_id=ticket.id))
    if keys:
        session.execute(update(ThreadKey).where(
            ThreadKey.key.in_(keys), ThreadKey.kind.in_(("own", "sent")),
            ThreadKey.ticket_id.in_(old)).values(ticket_id=ticket.id))


def split_problem(session: Session, ticket: Ticket, message: Message | None,
                  following: bool) -> str | None:
    if message is None:
        return "no such message"
    if message.ticket_id != ticket.id:
        other = session.get(Ticket, message.ticket_id)
        return f"message <{message.message_id}> is on {other.ref if other else '?'}, not {ticket.ref}"
    if ticket.status == TicketStatus.MERGED:
        return f"{ticket.ref} is merged; split the ticket it was merged into"
    if message.direction != Direction.IN or message.internal or \
            message.kind != AuthorKind.CUSTOMER or "@" not in message.from_addr:
        return (f"message <{message.message_id}> was not written to the desk by someone: "
                "only a received mail can start a ticket of its author")
    chosen = {m.id for m in _chosen(session, ticket, message, following)}
    staying = [m for m in _on(session, ticket) if m.id not in chosen
               and m.direction == Direction.IN and not m.internal]
    if not staying:
        return f"nothing received would stay on {ticket.ref}: that is the whole ticket"
    return None


def _chosen(session: Session, ticket: Ticket, message: Message, following: bool) -> list[Message]:
    every = _on(session, ticket)
    if not following:
        return [message]
    return every[every.index(message):]


def new_subject(subject: str, prefix: str) -> str:
    """M's subject without reply prefixes or the old ticket's tag."""
    text, _ = strip_prefixes(subject or "")
    text = re.sub(rf"\[\s*{re.escape(prefix)}-\d+\s*\]", " ", text, flags=re.IGNORECASE)
    text, _ = strip_prefixes(text.strip())
    return " ".join(text.split()) or "(no subject)"


def split(desk: Desk, session: Session, ticket: Ticket, message: Message, *, following: bool,
          actor: str, now: datetime) -> Split:
    """A new ticket for M's author from M (and what followed); the rules classify it."""
    problem = split_problem(session, ticket, message, following)
    if problem:
        raise RepairRefused(problem)
    chosen = _chosen(session, ticket, message, following)
    mail = _mail_of(session, message)
    author = Address(message.from_addr, message.from_name or "")
    public = frozenset(desk.config.threading.public_domains)
    contact = get_or_create_contact(session, author.email, author.name,
                                    organisation_of(author.email, public))
    reason = f"split from {ticket.ref} by {actor}"
    new = tickets.open_ticket(session, prefix=desk.config.desk.ticket_prefix, customer=contact,
                              subject=new_subject(message.subject, desk.config.desk.ticket_prefix),
                              channel=ticket.channel, now=now, language=ticket.language,
                              related_ticket_id=ticket.id, actor=actor, reason=reason)
    _move_rows(session, chosen, new)
    moved = [m.message_id or f"#{m.id}" for m in chosen]
    log_event(session, ticket.id, actor, "split", {"to": new.ref, "messages": moved},
              f"{len(chosen)} message(s) split off into {new.ref}", at=now)
    log_event(session, new.id, actor, "split-from", {"from": ticket.ref, "messages": moved},
              reason, at=now)
    run_rules(desk, session, new, contact, mail, now)
    session.flush()
    return Split(ticket.ref, new.ref, len(chosen), new.assignee, new.team)


def _mail_of(session: Session, message: Message) -> ParsedMail:
    """The mail as received (for the rules), else as stored."""
    raw = session.get(RawMessage, message.raw_id) if message.raw_id else None
    if raw is not None:
        return parse(raw.data)
    return ParsedMail(message_id=message.message_id, subject=message.subject,
                      from_addr=Address(message.from_addr, message.from_name or ""),
                      to=tuple(Address(a) for a in message.to_addrs or []),
                      cc=tuple(Address(a) for a in message.cc_addrs or []),
                      text=message.text, html=message.html, date=message.date)


def rule_context(desk: Desk, customer: Contact, now: datetime,
                 follow_up: bool = False) -> RuleContext:
    """What the rules know besides the mail: the same as the `decide` stage gives them."""
    return RuleContext(now=now, timezone=desk.config.desk.timezone,
                       desk_addresses=desk.config.desk.addresses,
                       customer_organisation=customer.organisation,
                       customer_vip=customer.vip, is_follow_up=follow_up,
                       in_business_hours=desk.sla.calendar.is_business_time)


def run_rules(desk: Desk, session: Session, ticket: Ticket, customer: Contact,
              mail: ParsedMail, now: datetime) -> Decision:
    """Classify, route and time a ticket as a new mail would be (no acknowledgement)."""
    decision = evaluate(desk.ruleset, mail, rule_context(desk, customer, now))
    tickets.apply_decision(session, ticket, decision, now=now)
    actor = f"rule:{decision.hits[-1].rule}" if decision.hits else "system"
    if decision.assign is not None:
        tickets.route(session, ticket, desk.ruleset, decision.assign, actor=actor, now=now,
                      reason="assigned by rule")
    tickets.set_sla(session, ticket, desk.sla, now=now)
    if decision.escalate:
        tickets.escalate(session, ticket, desk.ruleset, actor=actor, now=now,
                         reason="escalated by rule")
    return decision


def move_problem(session: Session, message: Message | None, target: Ticket) -> str | None:
    if message is None:
        return "no such message"
    if message.ticket_id == target.id:
        return f"message <{message.message_id}> is already on {target.ref}"
    if target.status == TicketStatus.MERGED:
        into = session.get(Ticket, target.merged_into_id) if target.merged_into_id else None
        return f"{target.ref} is merged into {into.ref if into else '?'}; move it there"
    return None


def move(session: Session, message: Message, target: Ticket, *, actor: str,
         now: datetime) -> str:
    """One message (and its own Message-ID) to `target`; returns the old ticket's ref."""
    problem = move_problem(session, message, target)
    if problem:
        raise RepairRefused(problem)
    source = session.get(Ticket, message.ticket_id)
    assert source is not None
    mid = message.message_id or f"#{message.id}"
    _move_rows(session, [message], target)
    target.last_activity_at = max(target.last_activity_at, message.created_at)
    target.updated_at = source.updated_at = now
    log_event(session, source.id, actor, "moved-out", {"message_id": mid, "to": target.ref},
              f"message <{mid}> moved to {target.ref}", at=now)
    log_event(session, target.id, actor, "moved-in", {"message_id": mid, "from": source.ref},
              f"message <{mid}> moved here from {source.ref}", at=now)
    session.flush()
    return source.ref
