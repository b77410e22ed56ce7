"""Which stored mail a processing worker takes next: the oldest that may go now.

Mail of one conversation is processed in arrival order. A stored mail waits while an
earlier stored mail whose Message-ID it refers to (In-Reply-To, References, kept in
`raw_references` at intake) is still 'received', that is waiting or in flight: a mail in
flight stays 'received' until its processing commits. On PostgreSQL the claim locks the
row with FOR UPDATE SKIP LOCKED, so daemons sharing the database never take the same
mail and never wait for each other; SQLite has a single writer (BEGIN IMMEDIATE), which
serialises the claims by itself.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from maildesk.store.models import RawMessage, RawReference
from maildesk.types import RawState


def claim_next(session: Session, only: Collection[int] | None = None) -> int | None:
    """Lock and return the id of the oldest mail that may be processed now, or None.

    `only` limits the choice to these ids (the mail `maildesk ingest` just stored).
    """
    earlier = aliased(RawMessage)
    parent_waiting = (
        select(RawReference.raw_id)
        .join(earlier, earlier.message_id == RawReference.ref)
        .where(RawReference.raw_id == RawMessage.id, earlier.id < RawMessage.id,
               earlier.state == RawState.RECEIVED.value))
    stmt = (select(RawMessage.id)
            .where(RawMessage.state == RawState.RECEIVED.value, ~exists(parent_waiting))
            .order_by(RawMessage.id).limit(1))
    if only is not None:
        stmt = stmt.where(RawMessage.id.in_(list(only)))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=RawMessage)
    return session.execute(stmt).scalar_one_or_none()

