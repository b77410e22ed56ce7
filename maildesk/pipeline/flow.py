"""The stage order, written once as a list; one transaction per mail.

accept() makes the raw bytes durable first (its own commit), then process() runs the
stages in a second transaction. If processing fails for a reason that lies in the mail,
the mail is quarantined with its error and nothing else is kept; if storage fails, the
raw row stays 'received' and is picked up again by recover().
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.errors import PermanentFailure, TemporaryFailure
from maildesk.mail.mime import header_message_id
from maildesk.pipeline.item import Item, Outcome
from maildesk.pipeline.stages import agent
from maildesk.pipeline.stages.apply import apply
from maildesk.pipeline.stages.bounce import bounce
from maildesk.pipeline.stages.customer import identify_customer
from maildesk.pipeline.stages.decide import decide
from maildesk.pipeline.stages.parse import parse_mail
from maildesk.pipeline.stages.respond import respond
from maildesk.pipeline.stages.route import route
from maildesk.pipeline.stages.screen import screen
from maildesk.pipeline.stages.solved import solved
from maildesk.pipeline.stages.survey import survey
from maildesk.pipeline.stages.thread import thread
from maildesk.runtime.desk import Desk
from maildesk.store.db import transaction
from maildesk.store.models import RawMessage
from maildesk.store.queries import store_raw
from maildesk.types import RawMail, RawState

log = logging.getLogger(__name__)

Stage = Callable[[Desk, Session, Item], Item]

STAGES: list[Stage] = [
    parse_mail,
    screen,
    bounce,
    thread,
    survey,
    agent.identify_author,
    agent.handle_agent,
    identify_customer,
    decide,
    apply,
    agent.record_on_behalf,
    route,
    solved,
    respond,
]


@dataclass(frozen=True, slots=True)
class Accepted:
    raw_id: int
    duplicate: bool
    outcome: Outcome | None


def accept(desk: Desk, raw: RawMail) -> Accepted:
    """Make the mail durable, then process it. Raises TemporaryFailure if storage is down."""
    with transaction(desk.sessions) as session:
        raw_id, created = store_raw(session, raw, header_message_id(raw.data))
        state = RawState.RECEIVED if created else session.get(RawMessage, raw_id).state
    if not created and state != RawState.RECEIVED:
        log.info("duplicate raw=%s source=%s: already stored", raw_id, raw.source)
        return Accepted(raw_id, True, None)
    return Accepted(raw_id, not created, process(desk, raw_id))


def process(desk: Desk, raw_id: int) -> Outcome | None:
    """Run every stage on one stored mail; quarantine it if the mail itself is at fault."""
    try:
        with transaction(desk.sessions, durable=False) as session:
            return _run_stages(desk, session, raw_id)
    except TemporaryFailure as exc:
        log.warning("raw=%s left for retry: %s", raw_id, exc)
        return None
    except Exception as exc:  # noqa: BLE001 - any other failure quarantines this mail only
        return quarantine(desk, raw_id, exc)


def _run_stages(desk: Desk, session: Session, raw_id: int) -> Outcome | None:
    row = session.get(RawMessage, raw_id, with_for_update=True)
    if row is None or row.state != RawState.RECEIVED:
        return None  # another worker got there first
    item = Item(raw_id=raw_id, raw=RawMail(
        data=row.data, source=row.source, envelope_from=row.envelope_from,
        envelope_to=tuple(filter(None, row.envelope_to.split("\n"))),
        source_ref=row.source_ref, received_at=row.received_at), now=desk.clock())
    for stage in STAGES:
        item = stage(desk, session, item)
        if item.outcome is not None and item.outcome.final:
            break
    outcome = item.outcome or Outcome("processed")
    row.state = RawState.IGNORED if outcome.kind == "ignored" else RawState.PROCESSED
    row.processed_at = item.now
    row.error = outcome.detail or None
    _log(item, outcome)
    return outcome


def _log(item: Item, outcome: Outcome) -> None:
    mid = item.parsed.message_id if item.parsed else None
    log.info("mail raw=%s message-id=<%s> ticket=%s outcome=%s method=%s %s", item.raw_id, mid,
             outcome.ref or "-", outcome.kind, item.match.method if item.match else "-",
             outcome.detail or "")


def quarantine(desk: Desk, raw_id: int, exc: BaseException) -> Outcome:
    """Keep the mail with its error; the next one goes on."""
    reason = (f"{exc.__class__.__name__}: {exc}" if isinstance(exc, PermanentFailure)
              else "".join(traceback.format_exception(exc, limit=6)))
    with transaction(desk.sessions) as session:
        row = session.get(RawMessage, raw_id)
        row.state = RawState.QUARANTINED
        row.error = reason[:20000]
        row.attempts += 1
        message_id, data = row.message_id, row.data
    _export_quarantined(desk, raw_id, data)
    log.error("quarantined raw=%s message-id=<%s>: %s", raw_id, message_id,
              reason.strip().splitlines()[-1])
    return Outcome("quarantined", detail=reason.strip().splitlines()[-1], final=True)


def _export_quarantined(desk: Desk, raw_id: int, data: bytes) -> None:
    """A copy admins can open with a mail client; the database copy stays authoritative."""
    try:
        desk.quarantine_dir.mkdir(parents=True, exist_ok=True)
        (desk.quarantine_dir / f"{raw_id}.eml").write_bytes(data)
    except OSError as exc:
        log.warning("could not export quarantined raw=%s: %s", raw_id, exc)


def retry_quarantined(desk: Desk, raw_id: int) -> Outcome | None:
    """Put a quarantined mail back through the stages (after a fix to rules or code)."""
    with transaction(desk.sessions) as session:
        row = session.get(RawMessage, raw_id)
        if row is None or row.state != RawState.QUARANTINED:
            return None
        row.state = RawState.RECEIVED
    return process(desk, raw_id)


def recover(desk: Desk, older_than: timedelta = timedelta(seconds=30), limit: int = 100) -> int:
    """Process raw mail left 'received' by a crash or a storage outage."""
    cutoff = desk.clock() - older_than
    with desk.sessions() as session:
        ids = session.execute(select(RawMessage.id).where(
            RawMessage.state == RawState.RECEIVED, RawMessage.received_at <= cutoff)
            .order_by(RawMessage.id).limit(limit)).scalars().all()
    for raw_id in ids:
        process(desk, raw_id)
    return len(ids)
