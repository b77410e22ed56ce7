"""Put a composed mail into the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.store.models import Outbox
from maildesk.types import OutboxState, Outgoing


def enqueue(session: Session, outgoing: Outgoing, sender: str, now: datetime,
            state: OutboxState = OutboxState.QUEUED, reason: str | None = None) -> Outbox:
    """Add an outbox row for `outgoing`; the caller commits it with the ticket change.

    `sender` is the envelope sender (MAIL FROM): the desk address, so bounces come back
    to the desk and can suppress the address. A mail that loop protection holds back is
    stored with state SUPPRESSED and the reason, so the ticket shows what was not sent.
    """
    row = Outbox(ticket_id=outgoing.ticket_id, kind=outgoing.kind,
                 message_id=outgoing.message_id, sender=sender,
                 recipients=list(outgoing.recipients),
                 to_addr=outgoing.recipients[0] if outgoing.recipients else "",
                 data=outgoing.data,
                 automatic=outgoing.automatic, state=state.value, attempts=0,
                 next_attempt_at=now, last_error=reason, created_at=now)
    session.add(row)
    return row
