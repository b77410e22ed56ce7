"""Two agents answering the same ticket at once: the later answer is held, not sent.

An agent's public answer that arrives within `[agents] collision_window` of another
agent's public answer on the same ticket, and was written before its writer could have
seen that answer, is kept in the outbox as `held`; its author gets a mail showing the
other answer, and replies `#send` (release it) or `#drop` (discard it).

"Could have seen it": the writer's mail refers (In-Reply-To/References) to the other
answer's Message-ID, to the desk's mail carrying it, or to any mail the desk made on the
ticket after it; or its quoted history contains the other answer's words. A mail that
only refers to older mail (the notification of the customer's message) was written
blind. Every public answer is logged as a `public-answer` event, which is what this
module reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.store.models import Event, Message, Outbox, Ticket
from maildesk.store.queries import log_event
from maildesk.text import fold
from maildesk.types import OutboxState, ParsedMail

ANSWER = "public-answer"
HELD = "answer-held"
SNIPPET = 60  # characters of the other answer looked for in the quoted history


@dataclass(frozen=True, slots=True)
class Collision:
    """The other agent's answer this one collided with."""

    agent: str
    at: datetime
    text: str
    message_id: str  # the desk's mail that carried it to the customer


def record_answer(session: Session, ticket: Ticket, agent: str, row: Outbox | None,
                  mail_id: str | None, text: str, now: datetime) -> None:
    """Log a public answer, which later answers are compared with."""
    log_event(session, ticket.id, agent, ANSWER,
              {"outbox": row.id if row else None, "message_id": row.message_id if row else None,
               "agent_message_id": mail_id, "text": text[:2000]}, at=now)


def _flat(value: str) -> str:
    lines = (re.sub(r"^[\s>|]+", "", line) for line in value.splitlines())
    return " ".join(" ".join(fold(line).split()) for line in lines if line.strip())


def has_seen(mail: ParsedMail, answer: Event, later_ids: set[str]) -> bool:
    """Pure: does `mail` refer to or quote `answer` (or anything the desk sent after it)?"""
    referred = set(mail.in_reply_to) | set(mail.references)
    known = {answer.detail.get("message_id"), answer.detail.get("agent_message_id")}
    if referred & ((known - {None}) | later_ids):
        return True
    snippet = _flat(str(answer.detail.get("text") or ""))[:SNIPPET]
    return bool(snippet) and snippet in _flat(mail.text)


def find(session: Session, ticket: Ticket, mail: ParsedMail, agent: str, now: datetime,
         window: int) -> Collision | None:
    """The latest other agent's answer within `window` seconds that `mail` has not seen."""
    if window <= 0:
        return None
    answers = session.execute(
        select(Event).where(Event.ticket_id == ticket.id, Event.action == ANSWER,
                            Event.actor != agent, Event.at >= now - timedelta(seconds=window),
                            Event.at <= now)
        .order_by(Event.at.desc(), Event.id.desc())).scalars().all()
    for answer in answers:
        if not _delivered(session, answer):
            continue
        later = {i for i in session.execute(select(Message.message_id).where(
            Message.ticket_id == ticket.id, Message.created_at >= answer.at)).scalars() if i}
        if not has_seen(mail, answer, later):
            return Collision(answer.actor, answer.at, str(answer.detail.get("text") or ""),
                             str(answer.detail.get("message_id") or ""))
    return None


def _delivered(session: Session, answer: Event) -> bool:
    """Only an answer that is going (or went) to the customer counts: not held, not dropped."""
    row = session.get(Outbox, answer.detail.get("outbox")) if answer.detail.get("outbox") else None
    return row is not None and row.state not in (OutboxState.HELD, OutboxState.DROPPED)


def hold(session: Session, ticket: Ticket, row: Outbox, agent: str, collision: Collision,
         mail_id: str | None, text: str, now: datetime) -> None:
    """Keep `row` in the outbox, unsent, until its author says #send or #drop."""
    row.state = OutboxState.HELD.value
    _show(session, row, False)  # not on the status page, not a parent for later mail
    log_event(session, ticket.id, agent, HELD,
              {"outbox": row.id, "message_id": row.message_id, "agent_message_id": mail_id,
               "text": text[:2000], "other_agent": collision.agent,
               "other_message_id": collision.message_id},
              f"{collision.agent} answered at {collision.at.isoformat()}", at=now)


def held_rows(session: Session, ticket: Ticket, agent: str) -> list[tuple[Outbox, Event]]:
    """This agent's answers on `ticket` that are still held, oldest first, with the event."""
    found = []
    for event in session.execute(
            select(Event).where(Event.ticket_id == ticket.id, Event.action == HELD,
                                Event.actor == agent).order_by(Event.id)).scalars():
        row = session.get(Outbox, event.detail.get("outbox") or 0)
        if row is not None and row.state == OutboxState.HELD:
            found.append((row, event))
    return found


def check_release(session: Session, ticket: Ticket, agent: str,
                  release: str | None) -> tuple[str, ...]:
    if release and not held_rows(session, ticket, agent):
        return (f"#{release}: no held answer of yours on this ticket",)
    return ()


def release(session: Session, ticket: Ticket, agent: str, what: str,
            now: datetime) -> tuple[str, ...]:
    """#send queues the held answers now; #drop discards them (kept, marked, never sent)."""
    lines = []
    for row, held in held_rows(session, ticket, agent):
        if what == "send":
            row.state, row.next_attempt_at = OutboxState.QUEUED.value, now
            _show(session, row, True)
            # From now on it is a public answer like any other: later ones compare with it.
            record_answer(session, ticket, agent, row, held.detail.get("agent_message_id"),
                          str(held.detail.get("text") or ""), now)
            lines.append("held answer sent to the customer")
        else:
            row.state = OutboxState.DROPPED.value
            lines.append("held answer dropped (not sent)")
        log_event(session, ticket.id, agent, f"answer-{'released' if what == 'send' else 'dropped'}",
                  {"outbox": row.id}, at=now)
    return tuple(lines)


def _show(session: Session, row: Outbox, public: bool) -> None:
    """The desk's copy of the answer on the ticket: public only once it is going out."""
    session.flush()  # the copy is added in the same transaction, just before
    for message in session.execute(select(Message).where(Message.outbox_id == row.id)).scalars():
        message.internal = not public


def ago(then: datetime, now: datetime) -> str:
    """Pure: "4 min" / "40 s" between two moments."""
    seconds = max(0, int((now - then).total_seconds()))
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"
