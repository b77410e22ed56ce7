"""The stage order, written once as a list; one transaction per mail.

store() makes the raw bytes durable first (its own commit, several mails at once for a
group commit); process() runs the stages in a second transaction. accept() is both, for
callers that want the outcome at once (the CLI, the importer, tests); the daemon's
intakes only store, and its processing workers take the stored mail with
process_next(), in order, a reply never before the earlier mail it refers to. If
processing fails for a reason that lies in the mail, the mail is quarantined with its
error and nothing else is kept; if storage fails, the raw row stays 'received' and is
picked up again.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.errors import PermanentFailure, TemporaryFailure
from maildesk.mail.mime import header_ids
from maildesk.pipeline.item import Item, Outcome
from maildesk.pipeline.stages import agent
from maildesk.pipeline.stages.apply import apply
from maildesk.pipeline.stages.bounce import bounce
from maildesk.pipeline.stages.customer import identify_customer
from maildesk.pipeline.stages.decide import decide
from maildesk.pipeline.stages.history import past_answer
from maildesk.pipeline.stages.parse import parse_mail
from maildesk.pipeline.stages.people import participants
from maildesk.pipeline.stages.respond import respond
from maildesk.pipeline.stages.route import route
from maildesk.pipeline.stages.screen import screen
from maildesk.pipeline.stages.solved import solved
from maildesk.pipeline.stages.survey import survey
from maildesk.pipeline.stages.thread import thread
from maildesk.runtime.desk import Desk
from maildesk.store.claim import claim_next
from maildesk.store.db import transaction
from maildesk.store.models import RawMessage
from maildesk.store.queries import store_raw
from maildesk.types import RawMail, RawState, Source

log = logging.getLogger(__name__)

Stage = Callable[[Desk, Session, Item], Item]

STAGES: list[Stage] = [
    parse_mail,
    past_answer,
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
    participants,
    route,
    solved,
    respond,
]


@dataclass(frozen=True, slots=True)
class Accepted:
    raw_id: int
    duplicate: bool
    outcome: Outcome | None
    waiting: bool = False  # stored and not processed yet


def store(desk: Desk, raws: Sequence[RawMail]) -> list[Accepted]:
    """Commit the raw bytes of every mail in one transaction: all are stored, or none.

    Each mail's Message-ID and the ids it refers to are read from its header block only.
    Raises TemporaryFailure when storage is down.
    """
    stored = []
    with transaction(desk.sessions) as session:
        for raw in raws:
            message_id, refs = header_ids(raw.data)
            raw_id, created = store_raw(session, raw, message_id, refs)
            waiting = created or session.get_one(RawMessage, raw_id).state == RawState.RECEIVED
            stored.append(Accepted(raw_id, not created, None, waiting))
    for raw, result in zip(raws, stored, strict=True):
        if not result.waiting:
            log.info("duplicate raw=%s source=%s: already stored", result.raw_id, raw.source)
    return stored


def accept(desk: Desk, raw: RawMail) -> Accepted:
    """Make the mail durable, then process it. Raises TemporaryFailure if storage is down."""
    result = store(desk, [raw])[0]
    if not result.waiting:
        return result
    return Accepted(result.raw_id, result.duplicate, process(desk, result.raw_id))


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


@dataclass(frozen=True, slots=True)
class Processed:
    raw_id: int
    outcome: Outcome | None


def process_next(desk: Desk, only: Collection[int] | None = None) -> Processed | None:
    """Claim the oldest stored mail that may go now and run the stages on it.

    None when nothing may go: every waiting mail is in flight elsewhere, or answers an
    earlier mail that is (store/claim.py). Raises TemporaryFailure when storage is down,
    so the caller can back off; the mail stays 'received'.
    """
    raw_id: int | None = None
    try:
        with transaction(desk.sessions, durable=False) as session:
            raw_id = claim_next(session, only)
            if raw_id is None:
                return None
            return Processed(raw_id, _run_stages(desk, session, raw_id))
    except TemporaryFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure quarantines this mail only
        if raw_id is None:
            raise
        return Processed(raw_id, quarantine(desk, raw_id, exc))


def _run_stages(desk: Desk, session: Session, raw_id: int) -> Outcome | None:
    row = session.get(RawMessage, raw_id, with_for_update=True)
    if row is None or row.state != RawState.RECEIVED:
        return None  # another worker got there first
    item = Item(raw_id=raw_id, raw=RawMail(
        data=row.data, source=Source(row.source), envelope_from=row.envelope_from,
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
        row = session.get(RawMessage, raw_id, with_for_update=True)
        if row is None or row.state != RawState.RECEIVED:  # taken since the rollback
            return Outcome("processed-elsewhere", final=True)
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


def drain(desk: Desk, ids: Collection[int]) -> list[Processed]:
    """Process these stored mails in order, as far as they may go now.

    A mail whose earlier mail is in flight at a daemon is left to that daemon's workers.
    """
    done = []
    while (next_one := process_next(desk, ids)) is not None:
        done.append(next_one)
    return done


def recover(desk: Desk, older_than: timedelta = timedelta(seconds=30), limit: int = 100) -> int:
    """Process raw mail left 'received' by a crash or a storage outage."""
    cutoff = desk.clock() - older_than
    with desk.sessions() as session:
        ids = session.execute(select(RawMessage.id).where(
            RawMessage.state == RawState.RECEIVED, RawMessage.received_at <= cutoff)
            .order_by(RawMessage.id).limit(limit)).scalars().all()
    if ids:
        drain(desk, set(ids))
    return len(ids)
