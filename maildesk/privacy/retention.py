"""[retention]: personal data kept only as long as configured, applied by the timers.

- raw_days: the raw bytes of mail processed (or ignored) longer ago are removed; the
  row stays, so a redelivery is still recognised as a duplicate and counts stay right.
- attachments_days: attachment files older than this are deleted; their rows (name,
  type, size) stay and the blob is marked purged.
- closed_ticket_days: a customer whose tickets have all been closed longer ago than this
  is erased as `maildesk privacy erase` does (pseudonymised, figures kept).

Each pass is logged, and what it did is remembered for `maildesk status`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from maildesk.config.model import RetentionConfig
from maildesk.privacy.erase import erase, remove_files
from maildesk.privacy.holdings import PSEUDONYM_DOMAIN, find
from maildesk.runtime.desk import Desk, DeskHolder
from maildesk.store.blobs import blob_path
from maildesk.store.db import transaction
from maildesk.store.models import Blob, Contact, Counter, RawMessage, Ticket
from maildesk.types import RawState, TicketStatus

log = logging.getLogger(__name__)
LAST_RUN = "retention:last-run"  # a counters row: Unix time of the last pass
EVERY = 3600.0  # seconds between passes of the daemon


@dataclass(frozen=True, slots=True)
class Pass:
    raw: int = 0
    attachments: int = 0
    customers: int = 0


def apply(desk: Desk, now: datetime) -> Pass:
    """One retention pass; nothing happens for a setting left at 0."""
    policy: RetentionConfig = desk.config.retention
    raw = files = customers = 0
    with transaction(desk.sessions) as session:
        if policy.raw_days:
            raw = purge_raw(session, now - timedelta(days=policy.raw_days), now)
        if policy.attachments_days:
            files = purge_attachments(session, now - timedelta(days=policy.attachments_days),
                                      now, desk.attachments_root)
        _mark(session, now)
    if policy.closed_ticket_days:
        customers = erase_closed(desk, now - timedelta(days=policy.closed_ticket_days), now)
    result = Pass(raw, files, customers)
    if raw or files or customers:
        log.info("retention: purged raw=%d attachments=%d; erased customers=%d", raw, files,
                 customers)
    return result


def purge_raw(session: Session, before: datetime, now: datetime) -> int:
    result = session.execute(update(RawMessage).where(
        RawMessage.state.in_([str(RawState.PROCESSED), str(RawState.IGNORED)]),
        RawMessage.received_at < before, RawMessage.purged_at.is_(None))
        .values(data=b"", purged_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_attachments(session: Session, before: datetime, now: datetime, root: Path) -> int:
    blobs = session.execute(select(Blob).where(Blob.created_at < before,
                                               Blob.purged_at.is_(None))).scalars().all()
    for blob in blobs:
        blob_path(root, blob.sha256).unlink(missing_ok=True)
        blob.purged_at = now
    return len(blobs)


def erase_closed(desk: Desk, before: datetime, now: datetime) -> int:
    """Customers all of whose tickets were closed before `before`, erased one by one."""
    with desk.sessions() as session:
        recent = select(Ticket.customer_id).where(
            (Ticket.status != str(TicketStatus.CLOSED)) | (Ticket.closed_at >= before))
        emails = session.execute(select(Contact.email).where(
            Contact.id.in_(select(Ticket.customer_id)), Contact.id.not_in(recent),
            ~Contact.email.like(f"%@{PSEUDONYM_DOMAIN}"))).scalars().all()
    for email in emails:
        with transaction(desk.sessions) as session:
            held = find(session, email)
            done = erase(session, desk.secret(), held, now, quarantine_dir=desk.quarantine_dir,
                         attachments_root=desk.attachments_root)
        remove_files(done.files)
    return len(emails)


def _mark(session: Session, now: datetime) -> None:
    row = session.get(Counter, LAST_RUN)
    if row is None:
        session.add(Counter(name=LAST_RUN, value=int(now.timestamp())))
    else:
        row.value = int(now.timestamp())


def status(session: Session, policy: RetentionConfig) -> dict[str, object]:
    """For `maildesk status`: the settings, the last pass, and what has been purged."""
    row = session.get(Counter, LAST_RUN)
    return {"raw_days": policy.raw_days, "attachments_days": policy.attachments_days,
            "closed_ticket_days": policy.closed_ticket_days,
            "last_run": datetime.fromtimestamp(row.value, UTC).isoformat()
            if row is not None else None,
            "raw_purged": session.execute(select(func.count()).select_from(RawMessage).where(
                RawMessage.purged_at.is_not(None))).scalar_one(),
            "attachments_purged": session.execute(select(func.count()).select_from(Blob).where(
                Blob.purged_at.is_not(None))).scalar_one()}


async def retention_worker(holder: DeskHolder, stop: asyncio.Event) -> None:
    """The daemon's retention timer: a pass at start, then every hour, while configured."""
    while not stop.is_set():
        desk = holder.current
        if desk.config.retention.enabled:
            try:
                await asyncio.to_thread(apply, desk, desk.clock())
            except Exception:  # a failed pass is retried at the next one
                log.exception("retention pass failed")
        try:
            await asyncio.wait_for(stop.wait(), EVERY)
        except TimeoutError:
            pass
