"""Time agents logged (`#time`, `maildesk tickets time`) in the period: per queue, agent
and ticket type. An entry counts in the period it was logged in, whatever the age of its
ticket: time is spent when it is spent. Minutes throughout."""

from __future__ import annotations

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from maildesk.reports.model import Period, TimeRow, TimeSpent
from maildesk.reports.stats import Column
from maildesk.store.models import Ticket, TimeEntry


def _where(period: Period) -> list[Column]:
    where: list[Column] = [TimeEntry.at >= period.start, TimeEntry.at < period.end,
                           Ticket.spam.is_(false())]
    if period.queue:
        where.append(Ticket.queue == period.queue)
    return where


def _by(session: Session, column: Column, period: Period) -> tuple[TimeRow, ...]:
    minutes = func.sum(TimeEntry.minutes)
    rows = session.execute(select(column, minutes, func.count(TimeEntry.id))
                           .join(Ticket, Ticket.id == TimeEntry.ticket_id)
                           .where(*_where(period)).group_by(column)
                           .order_by(minutes.desc(), column))
    return tuple(TimeRow(str(key), int(total), int(n)) for key, total, n in rows)


def time_spent(session: Session, period: Period) -> TimeSpent:
    total, entries = session.execute(
        select(func.coalesce(func.sum(TimeEntry.minutes), 0), func.count(TimeEntry.id))
        .join(Ticket, Ticket.id == TimeEntry.ticket_id).where(*_where(period))).one()
    return TimeSpent(total_minutes=int(total), entries=int(entries),
                     by_queue=_by(session, Ticket.queue, period),
                     by_agent=_by(session, TimeEntry.agent, period),
                     by_type=_by(session, Ticket.type, period))
