"""`maildesk privacy erase`: remove a person's data, keep the desk's figures right.

What goes: the raw bytes of their mail (so the same mail arriving again is new mail),
the text, subject and attachments of every message on their tickets and of their mail on
other tickets, the bodies of mail the desk sent them, their survey comments, and their
contact's name. What stays: every row that reports count (tickets, messages, events,
outbox rows) with its timestamps and durations, and their address replaced, everywhere
it remains (events, other people's tickets, other people's raw mail), by a stable
pseudonym, so "one customer, three tickets" still adds up (GDPR art. 17 with art. 89
statistics). Then the database is compacted (VACUUM) so no freed page keeps a copy.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.orm import Session

from maildesk.privacy.holdings import Holdings, pseudonym
from maildesk.store.blobs import blob_path
from maildesk.store.models import (
    AttachmentRow,
    Blob,
    Contact,
    Delivery,
    Message,
    Outbox,
    Participant,
    RawMessage,
    Suppression,
    ThreadKey,
    Ticket,
    WebhookDelivery,
)
from maildesk.store.queries import log_event
from maildesk.types import OutboxState

log = logging.getLogger(__name__)
ACTOR = "privacy"


@dataclass
class Erased:
    """What an erasure did (or, in a dry run, would do)."""

    pseudonym: str
    tickets: int = 0
    messages: int = 0
    raw: int = 0
    attachments: int = 0
    outbox: int = 0
    events: int = 0
    mentions: int = 0
    contact: bool = False
    files: list[str] = field(default_factory=list)  # blob and quarantine files to remove

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "files"} | {"files": len(self.files)}


class Replacer:
    """Replaces an address (any case) and a display name in text, lists and JSON."""

    def __init__(self, email: str, name: str, stand_in: str) -> None:
        # The name only as whole words of 3 characters or more: "Ana" must not turn
        # "Analysis" into a pseudonym.
        words = [re.escape(email)] + ([rf"\b{re.escape(name.strip())}\b"]
                                      if len(name.strip()) >= 3 else [])
        self.pattern = re.compile("|".join(words), re.IGNORECASE)
        self.stand_in = stand_in
        self.email_bytes = re.compile(re.escape(email.encode()), re.IGNORECASE)

    def text(self, value: str | None) -> str | None:
        return self.pattern.sub(self.stand_in, value) if value else value

    def json(self, value: Any) -> Any:
        return json.loads(self.pattern.sub(self.stand_in, json.dumps(value, ensure_ascii=False)))

    def raw(self, value: bytes) -> bytes:
        return self.email_bytes.sub(self.stand_in.encode(), value)


def erase(session: Session, secret: bytes, held: Holdings, now: datetime, *,
          quarantine_dir: Path, attachments_root: Path) -> Erased:
    """Erase in the caller's transaction; the files are removed by remove_files() after
    the commit, so a failed transaction leaves them in place."""
    stand_in = pseudonym(secret, held.email)
    name = held.contact.name if held.contact else ""
    swap = Replacer(held.email, name, stand_in)
    done = Erased(stand_in)
    own = {t.id for t in held.tickets}
    for message in held.messages:
        _blank(session, message, swap)
    done.messages = len(held.messages)
    done.attachments, done.files = _attachments(session, [m.id for m in held.messages],
                                                attachments_root)
    done.raw = _raw(session, held.raw, quarantine_dir, done.files)
    for row in held.outbox:
        _outbox(row, swap)
    done.outbox = len(held.outbox)
    for event in held.events:
        event.actor = swap.text(event.actor) or event.actor
        event.detail, event.reason = swap.json(event.detail), swap.text(event.reason) or ""
    done.events = len(held.events)
    for ticket in held.tickets:
        _ticket(session, ticket, swap)
    done.tickets = len(held.tickets)
    done.mentions = _mentions(session, held.mentions, own, swap)
    if held.contact is not None:
        _contact(session, held.contact, stand_in)
        done.contact = True
    session.execute(delete(Suppression).where(Suppression.email == held.email))
    _copies(session, held.email, swap)
    for ticket in held.tickets:
        log_event(session, ticket.id, ACTOR, "erased", {"customer": stand_in},
                  "personal data erased on request", at=now)
    return done


def _contact(session: Session, contact: Contact, stand_in: str) -> None:
    """The contact becomes the pseudonym; erased before (they wrote again since), their
    tickets join the pseudonym's contact, so reports still see one customer."""
    earlier = session.execute(select(Contact).where(Contact.email == stand_in)
                              ).scalar_one_or_none()
    if earlier is None or earlier.id == contact.id:
        contact.email, contact.name, contact.organisation = stand_in, "", None
        return
    session.execute(update(Ticket).where(Ticket.customer_id == contact.id)
                    .values(customer_id=earlier.id))
    session.flush()
    session.delete(contact)


def _blank(session: Session, message: Message, swap: Replacer) -> None:
    """The message keeps its place, time and direction; its words and ids go."""
    if message.message_id:
        session.execute(delete(ThreadKey).where(ThreadKey.key == message.message_id))
    message.text, message.html, message.subject = "", None, ""
    message.message_id, message.flag_reason = None, None
    message.from_addr = swap.text(message.from_addr) or ""
    message.from_name = swap.text(message.from_name) or ""
    message.to_addrs = swap.json(message.to_addrs or [])
    message.cc_addrs = swap.json(message.cc_addrs or [])


def _attachments(session: Session, message_ids: list[int], root: Path) -> tuple[int, list[str]]:
    if not message_ids:
        return 0, []
    rows = session.execute(select(AttachmentRow).where(
        AttachmentRow.message_id.in_(message_ids))).scalars().all()
    shas = {r.sha256 for r in rows}
    for row in rows:
        session.delete(row)
    session.flush()
    files = []
    for sha in shas:  # a file also attached to someone else's mail stays
        if not session.execute(select(func.count()).select_from(AttachmentRow)
                               .where(AttachmentRow.sha256 == sha)).scalar_one():
            session.execute(delete(Blob).where(Blob.sha256 == sha))
            files.append(str(blob_path(root, sha)))
    return len(rows), files


def _raw(session: Session, rows: Iterable[RawMessage], quarantine: Path, files: list[str]) -> int:
    """Raw rows go entirely: their dedup key would make the same mail a duplicate."""
    ids = [r.id for r in rows]
    if not ids:
        return 0
    for message in session.execute(select(Message).where(Message.raw_id.in_(ids))).scalars():
        message.raw_id = None
    session.flush()
    session.execute(delete(RawMessage).where(RawMessage.id.in_(ids)))
    files.extend(str(quarantine / f"{i}.eml") for i in ids)
    return len(ids)


def _outbox(row: Outbox, swap: Replacer) -> None:
    row.data = b""
    row.recipients = swap.json(row.recipients or [])
    row.to_addr = swap.text(row.to_addr) or ""
    row.to_base = swap.text(row.to_base) or ""
    if row.state == OutboxState.QUEUED:  # nothing left to send
        row.state, row.last_error = OutboxState.SUPPRESSED, "erased on request"
    row.last_error = swap.text(row.last_error)


def _ticket(session: Session, ticket: Ticket, swap: Replacer) -> None:
    ticket.subject, ticket.normalized_subject = "", ""
    ticket.satisfaction_comment = None
    ticket.watchers = swap.json(ticket.watchers or [])
    session.execute(delete(ThreadKey).where(ThreadKey.ticket_id == ticket.id))


def _mentions(session: Session, tickets: Iterable[Ticket], own: set[int], swap: Replacer) -> int:
    """Other people's tickets keep their words; the person's address in them is replaced."""
    count = 0
    for ticket in tickets:
        ticket.watchers = swap.json(ticket.watchers or [])
        messages = session.execute(select(Message).where(Message.ticket_id == ticket.id)).scalars()
        for message in messages:
            message.to_addrs = swap.json(message.to_addrs or [])
            message.cc_addrs = swap.json(message.cc_addrs or [])
            message.text = swap.text(message.text) or ""
            message.html = swap.text(message.html)
            raw = session.get(RawMessage, message.raw_id) if message.raw_id else None
            if raw is not None and raw.data:
                raw.data = swap.raw(raw.data)
        for row in session.execute(select(Outbox).where(Outbox.ticket_id == ticket.id)).scalars():
            row.data = swap.raw(row.data)
            row.recipients = swap.json(row.recipients or [])
        count += 1
    return count


def _copies(session: Session, email: str, swap: Replacer) -> None:
    """Where else the address is kept: as a participant, per-recipient delivery records,
    and webhook bodies not yet delivered or kept as a record."""
    address = email.lower()
    for person in session.execute(select(Participant).where(
            func.lower(Participant.email) == address)).scalars():
        person.email, person.name = swap.stand_in, ""
    for row in session.execute(select(Participant).where(or_(
            func.lower(Participant.added_by) == address,
            func.lower(Participant.removed_by) == address))).scalars():
        row.added_by = swap.text(row.added_by) or ""
        row.removed_by = swap.text(row.removed_by)
    for record in session.execute(select(Delivery).where(
            func.lower(Delivery.email) == address)).scalars():
        record.email, record.error = swap.stand_in, swap.text(record.error)
    for hook in session.execute(select(WebhookDelivery).where(
            func.lower(WebhookDelivery.body).contains(address))).scalars():
        hook.body = swap.text(hook.body) or ""


def remove_files(paths: Iterable[str]) -> int:
    removed = 0
    for path in paths:
        target = Path(path)
        if target.is_file():
            target.unlink()
            removed += 1
    return removed


TABLES = ("raw_messages", "messages", "outbox", "events", "contacts", "tickets", "attachments",
          "thread_keys")


def compact(engine: Engine) -> None:
    """Rewrite storage so freed pages keep no copy: VACUUM (and an emptied WAL) on
    SQLite; on PostgreSQL a VACUUM of the tables touched (dead row versions go)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"VACUUM {table}")
