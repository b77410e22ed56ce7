"""Database reads and writes behind the loop limits: RecentCounts and suppressions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..loops import LoopLimits, RecentCounts, base_address
from ..store.models import Outbox, Suppression
from ..types import OutboxState


def recent_counts(session: Session, recipient: str, ticket_id: int | None, now: datetime,
                  limits: LoopLimits) -> RecentCounts:
    """Count automatic outbox rows inside each window (rows held back are not counted).

    Recipients are a JSON list, which SQLite and PostgreSQL query differently, so the rows
    of the longest window are read and counted here; a window holds a few hundred rows at
    most, because the global limit caps it.
    """
    longest = max(limits.per_recipient_window, limits.per_ticket_window, limits.global_window)
    rows = session.execute(
        select(Outbox.recipients, Outbox.ticket_id, Outbox.created_at)
        .where(Outbox.automatic.is_(True), Outbox.created_at >= now - longest,
               Outbox.state != OutboxState.SUPPRESSED.value)
    ).all()
    who = base_address(recipient)
    return RecentCounts(
        to_recipient=sum(1 for r in rows if r.created_at >= now - limits.per_recipient_window
                         and who in {base_address(a) for a in r.recipients}),
        to_ticket=sum(1 for r in rows if ticket_id is not None and r.ticket_id == ticket_id
                      and r.created_at >= now - limits.per_ticket_window),
        total=sum(1 for r in rows if r.created_at >= now - limits.global_window),
        suppressed_until=suppressed_until(session, recipient),
    )


def suppressed_until(session: Session, address: str) -> datetime | None:
    row = session.get(Suppression, address.strip().lower())
    return row.until if row is not None else None


def suppress(session: Session, address: str, reason: str, now: datetime,
             limits: LoopLimits) -> None:
    """Record a hard bounce: no automatic mail to `address` for limits.suppress_for."""
    email = address.strip().lower()
    row = session.get(Suppression, email)
    until = now + limits.suppress_for
    if row is None:
        session.add(Suppression(email=email, reason=reason, until=until))
    else:
        row.reason, row.until = reason, max(row.until, until)
