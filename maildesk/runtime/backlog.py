"""What is waiting: mail stored but not processed, and mail queued but not sent.

Read by `maildesk status` (and by whoever waits for a daemon to catch up) and by the
metrics collector, so the figures an operator sees and alerts on are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.store.models import Outbox, RawMessage
from maildesk.types import OutboxState, RawState


@dataclass(frozen=True, slots=True)
class Backlog:
    received: int  # stored, not processed yet
    oldest_received_age_s: float | None
    outbox_queued: int  # not accepted by the relay yet
    outbox_due: int  # queued and due now (not waiting for a backoff)
    oldest_queued_age_s: float | None
    outbox_last_error: str | None = None  # why the most recently tried queued mail waits

    @property
    def idle(self) -> bool:
        """Nothing left to process and nothing the sender should be working on now."""
        return self.received == 0 and self.outbox_due == 0


def _age(now: datetime, oldest: datetime | None) -> float | None:
    return None if oldest is None else round(max((now - oldest).total_seconds(), 0.0), 1)


def read_backlog(session: Session, now: datetime) -> Backlog:
    """Three small indexed queries."""
    received, oldest_raw = session.execute(
        select(func.count(), func.min(RawMessage.received_at))
        .where(RawMessage.state == RawState.RECEIVED.value)).one()
    queued, due, oldest_out = session.execute(
        select(func.count(), func.count().filter(Outbox.next_attempt_at <= now),
               func.min(Outbox.created_at))
        .where(Outbox.state == OutboxState.QUEUED.value)).one()
    last_error = session.execute(
        select(Outbox.last_error).where(Outbox.state == OutboxState.QUEUED.value,
                                        Outbox.last_error.is_not(None))
        .order_by(Outbox.next_attempt_at.desc()).limit(1)).scalar()
    return Backlog(int(received), _age(now, oldest_raw), int(queued), int(due or 0),
                   _age(now, oldest_out), last_error)
