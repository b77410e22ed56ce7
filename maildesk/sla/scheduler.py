"""SLA and reminder timers: one pass over the tickets whose clocks run, each action once.

`tick(desk, now)` asks the pure planner (`sla.plan_timers`) what is due for each
candidate ticket and applies it (timer_actions.py). Each ticket gets its own short
transaction that first locks the ticket row: FOR UPDATE SKIP LOCKED on PostgreSQL, so
two daemons (or a daemon and a cron `maildesk tick`) never work on the same ticket at
once and neither waits for the other; on SQLite, BEGIN IMMEDIATE already serialises
writers. Before an action does anything, its TimerMark(ticket_id, kind, due_at) is
inserted with ON CONFLICT DO NOTHING: the unique constraint is the idempotency key, and
since the mark and the action's effects commit together, a crash never leaves one
without the other. `now` is always a parameter, so cron, the daemon and the tests drive
time the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from maildesk.errors import TemporaryFailure
from maildesk.runtime.desk import Desk, DeskHolder
from maildesk.sla.actions import apply_action
from maildesk.sla.planner import TicketView, TimerAction, plan_timers
from maildesk.store.db import transaction
from maildesk.store.models import Message, Ticket, TimerMark
from maildesk.store.queries import insert_ignore
from maildesk.types import OPEN_STATES, AuthorKind, TicketStatus

log = logging.getLogger(__name__)

BATCH = 200
SCHEDULED = OPEN_STATES  # a pending ticket still has reminders and auto-close


@dataclass(frozen=True, slots=True)
class Done:
    """One action a pass carried out."""

    ref: str
    kind: str
    due_at: datetime
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TickResult:
    now: datetime
    checked: int = 0  # tickets looked at
    actions: tuple[Done, ...] = ()
    skipped: int = 0  # tickets another process held at that moment
    failed: int = 0  # tickets whose actions raised; retried on the next pass


def tick(desk: Desk, now: datetime, batch: int = BATCH) -> TickResult:
    """One pass over every candidate ticket. Raises TemporaryFailure if storage is down."""
    checked = skipped = failed = 0
    actions: list[Done] = []
    for ids in candidate_batches(desk, batch):
        for ticket_id in ids:
            try:
                done = tick_ticket(desk, ticket_id, now)
            except TemporaryFailure:
                raise
            except Exception:  # noqa: BLE001 - one broken ticket must not stop the others
                log.exception("timers: ticket id=%s failed; retrying on the next pass",
                              ticket_id)
                failed += 1
                continue
            if done is None:
                skipped += 1
            else:
                checked += 1
                actions.extend(done)
    return TickResult(now, checked, tuple(actions), skipped, failed)


def candidate_batches(desk: Desk, size: int) -> Iterator[list[int]]:
    """Ids of tickets whose clocks may run, in keyset batches so a long list never sits
    in memory or in one long read transaction."""
    last = 0
    while True:
        with transaction(desk.sessions) as session:
            ids = list(session.execute(
                select(Ticket.id).where(Ticket.id > last,
                                        Ticket.status.in_([s.value for s in SCHEDULED]),
                                        Ticket.spam.is_(False))
                .order_by(Ticket.id).limit(size)).scalars())
        if not ids:
            return
        yield ids
        last = ids[-1]


def tick_ticket(desk: Desk, ticket_id: int, now: datetime) -> list[Done] | None:
    """Apply what is due on one ticket, in one transaction; None if another process has it."""
    with transaction(desk.sessions) as session:
        ticket = lock_ticket(session, ticket_id)
        if ticket is None:
            return None
        if ticket.status not in SCHEDULED or ticket.spam:
            return []
        view = ticket_view(session, ticket)
        done: list[Done] = []
        for action in plan_timers(view, desk.sla, now, marks(session, ticket_id)):
            if not claim(session, ticket_id, action, now):
                continue  # done meanwhile by another process
            detail = apply_action(desk, session, ticket, action, now)
            log.info("timer %s on %s (due %s): %s", action.kind, ticket.ref,
                     action.due_at.isoformat(), detail)
            done.append(Done(ticket.ref, action.kind.value, action.due_at, detail))
        return done


def lock_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """The ticket row, locked for this transaction, or None when another holds it."""
    query = select(Ticket).where(Ticket.id == ticket_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.execute(query).scalar_one_or_none()


def marks(session: Session, ticket_id: int) -> set[tuple[str, datetime]]:
    """The (kind, due_at) keys of the actions already done on the ticket."""
    rows = session.execute(select(TimerMark.kind, TimerMark.due_at)
                           .where(TimerMark.ticket_id == ticket_id))
    return {(kind, due_at) for kind, due_at in rows}


def claim(session: Session, ticket_id: int, action: TimerAction, now: datetime) -> bool:
    """Insert the action's TimerMark; False when it already exists (the action ran)."""
    values = {"ticket_id": ticket_id, "kind": action.kind.value, "due_at": action.due_at,
              "done_at": now}
    new_id = insert_ignore(session, cast(Table, TimerMark.__table__), values,
                           ["ticket_id", "kind", "due_at"], TimerMark.id)
    return new_id is not None


def last_activity(session: Session, ticket_id: int, kind: AuthorKind) -> datetime | None:
    """When a customer (or an agent, in public) last wrote on the ticket."""
    return session.execute(select(func.max(Message.created_at)).where(
        Message.ticket_id == ticket_id, Message.kind == kind.value,
        Message.internal.is_(False))).scalar_one_or_none()


def ticket_view(session: Session, ticket: Ticket) -> TicketView:
    """What the planner needs from a ticket row and its messages."""
    return TicketView(
        ticket_id=ticket.id, status=TicketStatus(ticket.status), priority=ticket.priority,
        created_at=ticket.created_at, policy=ticket.sla_policy, tier=ticket.tier,
        escalation_level=ticket.escalation_level, assignee=ticket.assignee,
        first_response_at=ticket.first_response_at, response_due_at=ticket.response_due_at,
        resolution_due_at=ticket.resolution_due_at,
        response_breached_at=ticket.response_breached_at,
        resolution_breached_at=ticket.resolution_breached_at,
        pending_since=ticket.pending_since, paused=timedelta(seconds=ticket.paused_seconds),
        last_customer_activity_at=last_activity(session, ticket.id, AuthorKind.CUSTOMER),
        last_agent_activity_at=last_activity(session, ticket.id, AuthorKind.AGENT))


async def timer_worker(holder: DeskHolder, stop: asyncio.Event) -> None:
    """The daemon's timer loop: a pass every `[sla] tick_interval` seconds until stopped.

    Each pass takes the current desk snapshot, so reloaded SLA files apply from the next one.
    """
    while not stop.is_set():
        desk = holder.current
        try:
            result = await asyncio.to_thread(tick, desk, desk.clock())
            if result.actions:
                log.info("timers: %d action(s) on %d ticket(s)", len(result.actions),
                         result.checked)
        except TemporaryFailure as exc:
            log.warning("timers: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), desk.config.sla.tick_interval)
        except TimeoutError:
            pass
