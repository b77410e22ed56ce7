"""After an import: each imported ticket takes its state from its history, and no timer
fires for the past.

A conversation whose last public message is the desk's answer was answered: it becomes
`[import] answered_state` (resolved or closed), as of that answer, without telling
anyone. One where the customer spoke last stays open for an agent to pick up, but its
SLA clocks do not start two months late: imported tickets get no due times (see the
route stage), and every timer action already due by the end of the import (an agent
reminder for a customer's old mail) is marked done without being done. Only tickets
opened by the import are settled; a live ticket that imported mail joined is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.runtime.desk import Desk
from maildesk.sla.planner import plan_timers
from maildesk.sla.scheduler import claim, marks, ticket_view
from maildesk.store.db import transaction
from maildesk.store.models import Message, Ticket
from maildesk.store.queries import log_event
from maildesk.tickets import lifecycle
from maildesk.types import OPEN_STATES, Direction, Source, TicketStatus

log = logging.getLogger(__name__)
ACTOR = "import"


@dataclass(frozen=True, slots=True)
class Settled:
    answered: int = 0  # moved to answered_state
    open: int = 0  # the customer spoke last: left open, without clocks for the past
    timers_skipped: int = 0  # timer actions due for the past, marked done undone


def settle(desk: Desk, refs: Iterable[str], now: datetime) -> Settled:
    """Settle each imported ticket (by ref) in its own transaction."""
    quiet = replace(desk, send_mail=False)
    answered = still_open = skipped = 0
    for ref in sorted(set(refs)):
        with transaction(quiet.sessions) as session:
            ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one_or_none()
            if ticket is None or ticket.channel != str(Source.IMPORT) or \
                    ticket.status not in OPEN_STATES:
                continue
            if _answer_time(session, ticket) is not None:
                _close_answered(quiet, session, ticket)
                answered += 1
                continue
            still_open += 1
            skipped += _skip_past_timers(quiet, session, ticket, now)
    return Settled(answered, still_open, skipped)


def _answer_time(session: Session, ticket: Ticket) -> datetime | None:
    """When the desk answered, if its answer is the last public message."""
    last = session.execute(select(Message).where(
        Message.ticket_id == ticket.id, Message.internal.is_(False))
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(1)).scalar_one_or_none()
    return last.created_at if last is not None and last.direction == Direction.OUT else None


def _close_answered(desk: Desk, session: Session, ticket: Ticket) -> None:
    state = TicketStatus(desk.config.history.answered_state)
    when = _answer_time(session, ticket)
    assert when is not None
    lifecycle.change_status(desk, session, ticket, state, actor=ACTOR, now=when,
                            reason="answered in the imported history", notify=False)
    log.info("import: %s %s (answered in its history)", ticket.ref, state)


def _skip_past_timers(desk: Desk, session: Session, ticket: Ticket, now: datetime) -> int:
    due = plan_timers(ticket_view(session, ticket), desk.sla, now, marks(session, ticket.id))
    skipped = [a for a in due if claim(session, ticket.id, a, now)]
    log_event(session, ticket.id, ACTOR, "imported-open",
              {"timers_skipped": [a.kind.value for a in skipped]},
              "imported with the customer's mail last: left open for an agent; no SLA "
              "clock or reminder for the past", at=now)
    return len(skipped)
