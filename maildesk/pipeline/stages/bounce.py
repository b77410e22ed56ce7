"""Delivery status notifications (RFC 3464) are attached to the ticket of the mail that
bounced and mark that outbox item; they never open a ticket or get an answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.mail.addresses import normalise_address
from maildesk.outbox.counts import suppress
from maildesk.outbox.notices import tell_sender
from maildesk.pipeline.item import Item, Outcome
from maildesk.runtime.desk import Desk
from maildesk.store.models import Delivery as DeliveryRecord
from maildesk.store.models import Outbox, Ticket
from maildesk.store.queries import log_event
from maildesk.tickets import operations as tickets
from maildesk.types import (
    AuthorKind,
    DeliveryReport,
    Direction,
    OutboxState,
    ThreadMatch,
    ThreadMethod,
)


def bounce(desk: Desk, session: Session, item: Item) -> Item:
    report = item.mail.report
    if report is None:
        return item
    row = _bounced_row(session, report, item)
    if row is None or row.ticket_id is None:
        return replace(item, outcome=Outcome(
            "ignored", detail="delivery report about mail the desk did not send", final=True))
    ticket = session.get(Ticket, row.ticket_id)
    assert ticket is not None
    tickets.add_message(session, ticket, item.mail, raw_id=item.raw_id, direction=Direction.IN,
                        kind=AuthorKind.SYSTEM, match=ThreadMatch(ticket.id, ThreadMethod.HEADERS),
                        now=item.now, attachments_root=desk.attachments_root)
    detail = {"outbox_id": row.id, "kind": row.kind, "recipients": list(report.recipients),
              "action": report.action, "status": report.status}
    if report.permanent:
        error = f"{report.status} {report.diagnostic}".strip()
        records = _mark_bounced(session, row, report, error, item.now)
        if all(r.state == OutboxState.BOUNCED.value for r in records):
            row.state = OutboxState.BOUNCED
        row.last_error = error
        _suppress(session, report, item, desk)
        detail["bounced"] = [r.email for r in records if r.state == OutboxState.BOUNCED.value]
        log_event(session, ticket.id, "system", "delivery-bounced", detail,
                  report.diagnostic, at=item.now)
        tell_sender(desk, session, ticket, row, records, item.now)
    else:
        log_event(session, ticket.id, "system", f"delivery-{report.action}", detail,
                  report.diagnostic, at=item.now)
    return replace(item, ticket_id=ticket.id,
                   outcome=Outcome("bounce", ref=ticket.ref, detail=report.status, final=True))


def _bounced_row(session: Session, report: DeliveryReport, item: Item) -> Outbox | None:
    """The outbox item the report is about: by its Message-ID, else by a referenced id."""
    candidates = [report.original_message_id, *item.mail.in_reply_to, *item.mail.references]
    for message_id in filter(None, candidates):
        row = session.execute(select(Outbox).where(Outbox.message_id == message_id.strip("<>"))
                              ).scalar_one_or_none()
        if row is not None:
            return row
    return None


def _mark_bounced(session: Session, row: Outbox, report: DeliveryReport, error: str,
                  now: datetime) -> list[DeliveryRecord]:
    """Mark the recipients the report names; a report naming none of a one-recipient
    mail's recipients (a forwarded address) is about that one recipient."""
    records = list(session.scalars(select(DeliveryRecord).where(
        DeliveryRecord.outbox_id == row.id).order_by(DeliveryRecord.id)))
    named = {normalise_address(r) for r in report.recipients}
    hit = [r for r in records if r.email in named]
    if not hit and len(records) == 1:
        hit = records
    for record in hit:
        record.state, record.error, record.updated_at = OutboxState.BOUNCED.value, error, now
    return records


def _suppress(session: Session, report: DeliveryReport, item: Item, desk: Desk) -> None:
    for address in report.recipients:
        suppress(session, address, f"{report.status} {report.diagnostic}".strip(), item.now,
                 desk.loop_limits)
