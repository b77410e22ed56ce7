"""Time spent on a ticket: `#time 30m` by mail, `maildesk tickets time REF 30m` by CLI.

A duration is minutes: `45`, `30m`, `1h`, `1h15m`, `1h 15min`, `2h30`. One entry is
at most a working day (`MAX_MINUTES`): a longer figure is almost always a typo, and an
entry nobody can undo would skew the report. Each entry is a row in `time_entries` and an
event on the ticket; the report sums them per queue, agent and type.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.store.models import Ticket, TimeEntry
from maildesk.store.queries import log_event

MAX_MINUTES = 24 * 60
_DURATION = re.compile(r"^(?:(\d{1,3})\s*h(?:ours?|oras?|rs?)?)?\s*"
                       r"(?:(\d{1,4})\s*(?:m|min|mins|minutes?|minutos?)?)?$")


def parse_minutes(value: str) -> int | None:
    """Pure: minutes in `value` ("45", "30m", "1h15m", "1h 15min"), None when unreadable."""
    text = value.strip().lower()
    match = _DURATION.match(text) if text else None
    if match is None or not any(match.groups()):
        return None
    hours, minutes = (int(group) if group else 0 for group in match.groups())
    return hours * 60 + minutes


def minutes_error(value: str) -> str | None:
    """Why `value` is not a time entry, or None when it is one."""
    minutes = parse_minutes(value)
    if minutes is None:
        return "not a duration (use 45, 30m or 1h15m)"
    if minutes <= 0:
        return "the time must be more than 0 minutes"
    if minutes > MAX_MINUTES:
        return "more than 24 hours in one entry"
    return None


def format_minutes(minutes: int) -> str:
    """Pure: 75 -> "1h 15m", 30 -> "30m", 120 -> "2h"."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest}m"
    return f"{hours}h {rest}m" if rest else f"{hours}h"


def record(session: Session, ticket: Ticket, agent: str, minutes: int, now: datetime,
           source: str) -> TimeEntry:
    """Store one entry and log it on the ticket."""
    entry = TimeEntry(ticket_id=ticket.id, agent=agent, minutes=minutes, at=now, source=source)
    session.add(entry)
    log_event(session, ticket.id, agent, "time", {"minutes": minutes, "source": source},
              at=now)
    return entry


def total(session: Session, ticket: Ticket) -> int:
    """Minutes logged on `ticket` so far."""
    return int(session.execute(select(func.coalesce(func.sum(TimeEntry.minutes), 0))
                               .where(TimeEntry.ticket_id == ticket.id)).scalar_one())
