"""Put a composed mail into the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maildesk.mail.loops import base_address
from maildesk.store.models import Outbox
from maildesk.types import OutboxState, Outgoing


def enqueue(session: Session, outgoing: Outgoing, sender: str, now: datetime,
            state: OutboxState = OutboxState.QUEUED, reason: str | None = None) -> Outbox:
    """Add an outbox row for `outgoing`; the caller commits it with the ticket change.

    `sender` is the envelope sender (MAIL FROM): the desk address, so bounces come back
    to the desk and can suppress the address. A mail that loop protection holds back is
    stored with state SUPPRESSED and the reason, so the ticket shows what was not sent.
    """
    to_addr = outgoing.recipients[0].strip().lower() if outgoing.recipients else ""
    row = Outbox(ticket_id=outgoing.ticket_id, kind=outgoing.kind,
                 message_id=outgoing.message_id, sender=sender,
                 recipients=list(outgoing.recipients), to_addr=to_addr,
                 to_base=base_address(to_addr) if to_addr else "",
                 to_domain=to_addr.rpartition("@")[2],
                 built=outgoing.data, draft=dict(outgoing.draft) if outgoing.draft else None,
                 automatic=outgoing.automatic, state=state.value, attempts=0,
                 next_attempt_at=now, last_error=reason, created_at=now)
    session.add(row)
    return row

