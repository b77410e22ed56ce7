"""Database reads and writes behind the loop limits: RecentCounts and suppressions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from maildesk.mail.addresses import normalise_address
from maildesk.mail.loops import LoopLimits, RecentCounts
from maildesk.store.models import Outbox, Suppression
from maildesk.types import OutboxState


def recent_counts(session: Session, recipient: str, ticket_id: int | None, now: datetime,
                  limits: LoopLimits) -> RecentCounts:
    """Count automatic outbox rows inside each window (rows held back are not counted).

    One indexed query with conditional sums: automatic mail goes to one recipient,
    recorded in `to_addr`, so the check costs the same however busy the desk is.
    """
    def within(window: timedelta, *where: Any) -> Any:
        return func.coalesce(func.sum(case((and_(Outbox.created_at >= now - window, *where), 1),
                                           else_=0)), 0)

    longest = max(limits.per_recipient_window, limits.per_ticket_window, limits.global_window)
    to_recipient, to_ticket, total = session.execute(select(
        within(limits.per_recipient_window, Outbox.to_addr == normalise_address(recipient)),
        within(limits.per_ticket_window, Outbox.ticket_id == ticket_id),
        within(limits.global_window),
    ).where(Outbox.automatic.is_(True), Outbox.state != OutboxState.SUPPRESSED.value,
            Outbox.created_at >= now - longest)).one()
    return RecentCounts(to_recipient=int(to_recipient),
                        to_ticket=int(to_ticket) if ticket_id is not None else 0,
                        total=int(total), suppressed_until=suppressed_until(session, recipient))


def suppressed_until(session: Session, address: str) -> datetime | None:
    row = session.get(Suppression, normalise_address(address))
    return row.until if row is not None else None


def suppress(session: Session, address: str, reason: str, now: datetime,
             limits: LoopLimits) -> None:
    """Record a hard bounce: no automatic mail to `address` for limits.suppress_for."""
    email = normalise_address(address)
    row = session.get(Suppression, email)
    until = now + limits.suppress_for
    if row is None:
        session.add(Suppression(email=email, reason=reason, until=until))
    else:
        row.reason, row.until = reason, max(row.until, until)
