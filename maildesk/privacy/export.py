"""`maildesk privacy export`: everything the desk holds about a person, in one folder.

    contact.json      the contact row
    tickets.json      their tickets as `tickets show --json` gives them (messages included)
    messages.json     their mail on other people's tickets
    mail.mbox         the raw mails, byte for byte (mboxrd quoting of "From " lines)
    attachments/      the files, named <message id>-<file name>
    surveys.json      satisfaction answers on their tickets
    events.json       events on their tickets or naming them
    outbox.json       mail the desk sent them (headers only; the bodies are in tickets)

This answers a data-subject access request (GDPR art. 15) in formats a person can open.
"""

from __future__ import annotations

import json
import mailbox
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.privacy.holdings import Holdings
from maildesk.store.blobs import blob_path
from maildesk.store.models import AttachmentRow
from maildesk.tickets.views import message_view, ticket_detail


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _write(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n",
                    encoding="utf-8")


def export(session: Session, held: Holdings, out: Path, attachments_root: Path) -> dict[str, int]:
    """Write the folder; return how many of each thing were written."""
    out.mkdir(parents=True, exist_ok=True)
    contact = held.contact
    _write(out / "contact.json", None if contact is None else {
        "email": contact.email, "name": contact.name, "organisation": contact.organisation,
        "language": contact.language, "vip": contact.vip, "created_at": _iso(contact.created_at)})
    _write(out / "tickets.json", [ticket_detail(session, t) for t in held.tickets])
    own = {t.id for t in held.tickets}
    others = [m for m in held.messages if m.ticket_id not in own]
    files = _attachments(session, held)
    _write(out / "messages.json", [message_view(m, [a for a in files if a.message_id == m.id])
                                   for m in others])
    _write(out / "surveys.json", [{"ticket": t.ref, "score": t.satisfaction_score,
                                   "comment": t.satisfaction_comment,
                                   "at": _iso(t.satisfaction_at)}
                                  for t in held.tickets if t.satisfaction_score is not None])
    _write(out / "events.json", [{"ticket_id": e.ticket_id, "at": _iso(e.at), "actor": e.actor,
                                  "action": e.action, "detail": e.detail, "reason": e.reason}
                                 for e in held.events])
    _write(out / "outbox.json", [{"message_id": o.message_id, "kind": o.kind,
                                  "to": o.recipients, "state": o.state,
                                  "created_at": _iso(o.created_at), "sent_at": _iso(o.sent_at)}
                                 for o in held.outbox])
    raw = _mbox(out / "mail.mbox", held)
    copied = _copy_files(out / "attachments", files, attachments_root)
    return {"tickets": len(held.tickets), "messages": len(held.messages), "raw": raw,
            "attachments": copied, "events": len(held.events), "outbox": len(held.outbox)}


def _attachments(session: Session, held: Holdings) -> list[AttachmentRow]:
    ids = [m.id for m in held.messages]
    return list(session.execute(select(AttachmentRow).where(AttachmentRow.message_id.in_(ids))
                                .order_by(AttachmentRow.id)).scalars()) if ids else []


def _mbox(path: Path, held: Holdings) -> int:
    path.unlink(missing_ok=True)
    box = mailbox.mbox(str(path), create=True)
    written = 0
    try:
        box.lock()
        for row in held.raw:
            if row.data:
                box.add(mailbox.mboxMessage(row.data))
                written += 1
        box.flush()
    finally:
        box.unlock()
        box.close()
    return written


def _copy_files(folder: Path, files: list[AttachmentRow], root: Path) -> int:
    folder.mkdir(exist_ok=True)
    copied = 0
    for row in files:
        source = blob_path(root, row.sha256)
        if source.is_file():
            (folder / f"{row.message_id}-{row.id}-{row.filename}").write_bytes(source.read_bytes())
            copied += 1
    return copied
