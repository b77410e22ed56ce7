"""Database reads and writes behind the loop limits: RecentCounts and suppressions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from maildesk.mail.addresses import normalise_address
from maildesk.mail.loops import LoopLimits, RecentCounts, base_address
from maildesk.store.models import Outbox, Suppression
from maildesk.types import OutboxState


def recent_counts(session: Session, recipient: str, ticket_id: int | None, now: datetime,
                  limits: LoopLimits) -> RecentCounts:
    """Count automatic outbox rows inside each window (rows held back are not counted).

    Two queries, each of bounded cost however big the outbox grows: the recipient's own
    counts (base address, domain, ticket) with its suppression, which the OR of three
    indexed columns keeps to that sender's rows, and the desk-wide totals (see
    `_desk_counts`).
    """
    base = base_address(recipient)
    domain = base.rpartition("@")[2]
    to_base, to_domain, to_ticket, until = _own_counts(session, base, domain, ticket_id, now,
                                                       limits, normalise_address(recipient))
    total, first_contacts = _desk_counts(session, now, limits)
    return RecentCounts(to_recipient=to_base, to_ticket=to_ticket, total=total,
                        suppressed_until=until, to_domain=to_domain,
                        first_contacts=first_contacts)


def desk_cap(limits: LoopLimits) -> int:
    """How many of the window's newest rows the desk-wide counts read at most."""
    return limits.global_limit + limits.first_contact_limit + 1


def _desk_counts(session: Session, now: datetime, limits: LoopLimits) -> tuple[int, int]:
    """Automatic mail and distinct addresses in the global window, over its newest
    `desk_cap` rows only (read newest first on the created_at index).

    Below the cap the counts are exact. At the cap the desk sent more than both
    allowances together this window, so one of them is already spent within the rows
    read; both counts only grow with more rows, so whatever the cap holds back the full
    count would hold back too. (The other way round, a first contact may still pass
    while the repeats are what filled the cap.) The cost is at most `desk_cap` index
    entries per mail, not the whole window.
    """
    newest = (select(Outbox.to_base).where(*_counted(now - limits.global_window))
              .order_by(Outbox.created_at.desc()).limit(desk_cap(limits)).subquery())
    total, first_contacts = session.execute(select(
        func.count(), func.count(func.distinct(newest.c.to_base)))).one()
    return int(total), int(first_contacts)


def _counted(since: datetime) -> tuple[Any, ...]:
    return (Outbox.automatic.is_(True), Outbox.state != OutboxState.SUPPRESSED.value,
            Outbox.created_at >= since)


def _own_counts(session: Session, base: str, domain: str, ticket_id: int | None,
                now: datetime, limits: LoopLimits, email: str
                ) -> tuple[int, int, int, datetime | None]:
    def within(window: timedelta, *where: Any) -> Any:
        return func.coalesce(func.sum(case((and_(Outbox.created_at >= now - window, *where), 1),
                                           else_=0)), 0)

    longest = max(limits.per_recipient_window, limits.per_domain_window,
                  limits.per_ticket_window)
    mine = [Outbox.to_base == base, Outbox.to_domain == domain]
    if ticket_id is not None:
        mine.append(Outbox.ticket_id == ticket_id)
    until = select(Suppression.until).where(Suppression.email == email).scalar_subquery()
    to_base, to_domain, to_ticket, suppressed = session.execute(select(
        within(limits.per_recipient_window, Outbox.to_base == base),
        within(limits.per_domain_window, Outbox.to_domain == domain),
        within(limits.per_ticket_window, Outbox.ticket_id == ticket_id),
        until,
    ).where(or_(*mine), *_counted(now - longest))).one()
    return (int(to_base), int(to_domain), int(to_ticket) if ticket_id is not None else 0,
            suppressed)


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
