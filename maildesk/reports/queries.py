"""The report's figures as SQL aggregates, one small query per figure.

Scope: the tickets *created* in the period (a cohort), spam excluded, optionally one
queue. Their first-response and resolution times are the business-time durations stored
on the ticket when those moments happened. The backlog is the exception: it is the open
work as of now, aged by calendar time since creation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, false, func, select
from sqlalchemy.orm import Session

from maildesk.reports.model import (
    AGE_BUCKETS,
    Agents,
    Backlog,
    BacklogRow,
    Breach,
    Count,
    LowScore,
    Period,
    PersonRow,
    Reopens,
    Report,
    Satisfaction,
    Sla,
    SlaByPriority,
    SlaFigures,
    Volume,
)
from maildesk.reports.recurring import recurring
from maildesk.reports.stats import Column, durations, group_medians, is_postgres
from maildesk.reports.time_spent import time_spent
from maildesk.store.models import Ticket
from maildesk.types import OPEN_STATES, TicketStatus

LOW_SCORE = 2
LIST_LIMIT = 10

Where = Sequence[Column]


def make_period(first_day: date, last_day: date, timezone: str, now: datetime,
                queue: str | None = None, brand: str | None = None) -> Period:
    """Local days [first_day, last_day] in the desk's time zone, as a UTC interval."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first_day, time(), zone)
    end = datetime.combine(last_day + timedelta(days=1), time(), zone)
    return Period(start=start.astimezone(ZoneInfo("UTC")), end=end.astimezone(ZoneInfo("UTC")),
                  first_day=first_day, last_day=last_day, timezone=timezone, now=now,
                  queue=queue, brand=brand)


WIDE_SHARE = 0.3


def cohort(period: Period, wide: bool = False) -> list[Column]:
    """The period's tickets. `wide`: the period holds most tickets, so read the table
    straight through: coalesce() hides the created_at index, which would cost a random
    row fetch per ticket (about 4x slower on SQLite when most rows match)."""
    created = func.coalesce(Ticket.created_at, Ticket.created_at) if wide else Ticket.created_at
    # A merged ticket lives on in the one it went into: count that one only.
    where: list[Column] = [created >= period.start, created < period.end,
                           Ticket.spam.is_(false()), Ticket.status != TicketStatus.MERGED]
    if period.queue:
        where.append(Ticket.queue == period.queue)
    if period.brand:
        where.append(Ticket.brand == period.brand)
    return where


def is_wide(session: Session, period: Period) -> bool:
    """Does the period hold more than WIDE_SHARE of all tickets? (Two index-only counts.)"""
    total = session.execute(select(func.count(Ticket.id))).scalar_one()
    inside = session.execute(select(func.count()).select_from(Ticket).where(
        Ticket.created_at >= period.start, Ticket.created_at < period.end)).scalar_one()
    return bool(total) and inside > WIDE_SHARE * total


def build_report(session: Session, period: Period) -> Report:
    # PostgreSQL's planner has statistics and chooses well; SQLite's has no histograms.
    where = cohort(period, wide=not is_postgres(session) and is_wide(session, period))
    return Report(
        period=period, volume=volume(session, period, where),
        first_response=durations(session, Ticket.first_response_seconds, where),
        resolution=durations(session, Ticket.resolution_seconds, where),
        reopens=reopens(session, where), sla=sla(session, where),
        backlog=backlog(session, period), agents=agents(session, where),
        satisfaction=satisfaction(session, where), recurring=recurring(session, where),
        time_spent=time_spent(session, period))


# -- volume --------------------------------------------------------------------------------

def counts_by(session: Session, column: Column, where: Where,
              limit: int | None = None) -> tuple[Count, ...]:
    query = (select(column, func.count()).where(*where).group_by(column)
             .order_by(func.count().desc(), column))
    if limit:
        query = query.limit(limit)
    return tuple(Count(str(key if key is not None else "-"), int(n))
                 for key, n in session.execute(query))


def _utc_hour(session: Session) -> Column:
    if is_postgres(session):
        return func.to_char(func.timezone("UTC", Ticket.created_at), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", Ticket.created_at)


def by_local_day(session: Session, period: Period, where: Where) -> tuple[Count, ...]:
    """Tickets per local day, every day of the period listed (zeros included).

    The database groups by UTC hour (at most 24 rows a day whatever the volume); hours
    are then placed on the desk's local days, which is exact for whole-hour time zones.
    """
    hour = _utc_hour(session)
    zone = ZoneInfo(period.timezone)
    days: dict[date, int] = defaultdict(int)
    for key, n in session.execute(select(hour, func.count()).where(*where).group_by(hour)):
        utc = datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=ZoneInfo("UTC"))
        days[utc.astimezone(zone).date()] += int(n)
    span = (period.last_day - period.first_day).days + 1
    every = (period.first_day + timedelta(days=i) for i in range(span))
    return tuple(Count(day.isoformat(), days.get(day, 0)) for day in every)


def volume(session: Session, period: Period, where: Where) -> Volume:
    total = session.execute(select(func.count()).select_from(Ticket).where(*where)).scalar_one()
    return Volume(total=int(total), by_day=by_local_day(session, period, where),
                  by_type=counts_by(session, Ticket.type, where),
                  by_queue=counts_by(session, Ticket.queue, where),
                  by_priority=counts_by(session, Ticket.priority, where),
                  by_channel=counts_by(session, Ticket.channel, where))


# -- reopens and SLA -------------------------------------------------------------------------

def _count_if(condition: Column) -> Column:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def reopens(session: Session, where: Where) -> Reopens:
    ever_resolved = Ticket.resolved_at.is_not(None) | (Ticket.reopen_count > 0)
    resolved, reopened = session.execute(select(
        _count_if(ever_resolved), _count_if(Ticket.reopen_count > 0)).where(*where)).one()
    return Reopens(int(resolved), int(reopened),
                   None if not resolved else int(reopened) / int(resolved))


def _sla_columns() -> list[Column]:
    return [_count_if(Ticket.response_due_at.is_not(None)),
            _count_if(Ticket.response_breached_at.is_not(None)),
            _count_if(Ticket.resolution_due_at.is_not(None)),
            _count_if(Ticket.resolution_breached_at.is_not(None))]


def _figures(row: Sequence[int]) -> tuple[SlaFigures, SlaFigures]:
    return SlaFigures(int(row[0]), int(row[1])), SlaFigures(int(row[2]), int(row[3]))


def sla(session: Session, where: Where) -> Sla:
    with_due = Ticket.response_due_at.is_not(None) | Ticket.resolution_due_at.is_not(None)
    total = session.execute(select(*_sla_columns()).where(*where)).one()
    rows = session.execute(select(Ticket.priority, *_sla_columns())
                           .where(*where, with_due).group_by(Ticket.priority)
                           .order_by(Ticket.priority))
    by_priority = tuple(SlaByPriority(row[0], *_figures(row[1:])) for row in rows)
    return Sla(*_figures(total), by_priority=by_priority,
               recent_breaches=recent_breaches(session, where))


def recent_breaches(session: Session, where: Where) -> tuple[Breach, ...]:
    found: list[Breach] = []
    for kind, column in (("response", Ticket.response_breached_at),
                         ("resolution", Ticket.resolution_breached_at)):
        rows = session.execute(select(Ticket.ref, Ticket.subject, Ticket.priority, column)
                               .where(*where, column.is_not(None))
                               .order_by(column.desc(), Ticket.ref).limit(LIST_LIMIT))
        found += [Breach(ref, subject, priority, kind, at) for ref, subject, priority, at in rows
                  if at is not None]
    return tuple(sorted(found, key=lambda b: (b.at, b.ref), reverse=True)[:LIST_LIMIT])


# -- backlog ---------------------------------------------------------------------------------

def backlog(session: Session, period: Period) -> Backlog:
    now = period.now
    bucket = case((Ticket.created_at >= now - timedelta(days=1), AGE_BUCKETS[0]),
                  (Ticket.created_at >= now - timedelta(days=3), AGE_BUCKETS[1]),
                  (Ticket.created_at >= now - timedelta(days=7), AGE_BUCKETS[2]),
                  else_=AGE_BUCKETS[3])
    where: list[Column] = [Ticket.status.in_([str(s) for s in OPEN_STATES]),
                           Ticket.spam.is_(false())]
    if period.queue:
        where.append(Ticket.queue == period.queue)
    if period.brand:
        where.append(Ticket.brand == period.brand)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for status, age, n in session.execute(select(Ticket.status, bucket, func.count())
                                          .where(*where).group_by(Ticket.status, bucket)):
        counts[status][age] = int(n)
    rows = tuple(BacklogRow(str(s), tuple(counts[str(s)].get(b, 0) for b in AGE_BUCKETS))
                 for s in OPEN_STATES)
    return Backlog(as_of=now, rows=rows)


# -- people ----------------------------------------------------------------------------------

def people(session: Session, group: Column, where: Where) -> tuple[PersonRow, ...]:
    """Per agent or team: tickets handled, resolved, median first response, satisfaction."""
    medians = group_medians(session, group, Ticket.first_response_seconds, where)
    rows = session.execute(
        select(group, func.count(), func.count(Ticket.resolved_at),
               func.avg(Ticket.satisfaction_score), func.count(Ticket.satisfaction_score))
        .where(*where, group.is_not(None)).group_by(group)
        .order_by(func.count().desc(), group))
    return tuple(PersonRow(name, int(handled), int(resolved), medians.get(name),
                           None if avg is None else round(float(avg), 4), int(rated))
                 for name, handled, resolved, avg, rated in rows)


def agents(session: Session, where: Where) -> Agents:
    return Agents(agents=people(session, Ticket.assignee, where),
                  teams=people(session, Ticket.team, where))


# -- satisfaction ----------------------------------------------------------------------------

def satisfaction(session: Session, where: Where) -> Satisfaction:
    """Surveys go out on resolution, so the response rate is rated / ever resolved."""
    ever_resolved = Ticket.resolved_at.is_not(None) | (Ticket.reopen_count > 0)
    resolved, rated, average = session.execute(select(
        _count_if(ever_resolved), func.count(Ticket.satisfaction_score),
        func.avg(Ticket.satisfaction_score)).where(*where)).one()
    scores = dict(session.execute(
        select(Ticket.satisfaction_score, func.count()).where(
            *where, Ticket.satisfaction_score.is_not(None)).group_by(Ticket.satisfaction_score)
    ).all())
    low = session.execute(
        select(Ticket.ref, Ticket.satisfaction_score, Ticket.satisfaction_comment,
               Ticket.assignee)
        .where(*where, Ticket.satisfaction_score <= LOW_SCORE)
        .order_by(Ticket.satisfaction_at.desc(), Ticket.ref).limit(LIST_LIMIT * 2))
    return Satisfaction(
        resolved=int(resolved), rated=int(rated),
        average=None if average is None else round(float(average), 4),
        distribution=tuple(int(scores.get(i, 0)) for i in range(1, 6)),  # type: ignore[arg-type]
        low_scores=tuple(LowScore(ref, int(score or 0), (comment or "").strip(), who)
                         for ref, score, comment, who in low))
