"""The delivery edge: queued outbox rows -> the relay, at least once.

A pass claims due rows, delivers each through the relay with aiosmtplib and records the
outcome, in three short steps so that no database transaction stays open while SMTP
talks (on SQLite that would block every writer, intake included):

1. claim: in one transaction, pick due `queued` rows (`FOR UPDATE SKIP LOCKED` on
   PostgreSQL, so concurrent senders skip each other's rows), build the MIME of rows
   only drafted so far (kept in the row, so every try sends the same bytes) and push
   their `next_attempt_at` one lease ahead with a conditional UPDATE. The lease is short and
   renewed while the pass still holds the row, so a sender killed mid-pass (kill -9,
   power loss) leaves its rows to the next sender within one lease, not after the
   longest pass; on SQLite the conditional UPDATE alone keeps two senders from
   claiming one row.
2. deliver: a short burst of tries (tenacity) for 4xx replies and connection errors.
3. record: sent, failed (5xx, or temporary failures for longer than `retry_for`, with a
   "delivery-failed" event on the ticket), or back to queued with exponential backoff.

A crash between the relay's 250 and step 3 sends the mail again after the lease; the
Message-ID stays the same, so clients and the desk's own threading see one message.

Mail to one recipient about one ticket leaves in the order it was written: a row waits
while an earlier one of the same (ticket, recipient) is still queued and not due, and
within a pass a failure holds back the later ones. When the relay cannot be reached at
all, the rest of the pass is put back at once instead of each row timing out in turn.
See docs/outbound.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import aiosmtplib
from aiosmtplib.response import SMTPResponse
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from maildesk.auth.tokens import AccessTokens
from maildesk.config.model import OutboxConfig, RelayConfig
from maildesk.errors import TemporaryFailure, TokenUnavailable
from maildesk.runtime.waiting import wait_any
from maildesk.store.models import Delivery as DeliveryRecord
from maildesk.store.models import Event, Outbox
from maildesk.types import OutboxState

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]
EVENT_FAILED = "delivery-failed"
EVENT_PARTIAL = "delivery-partly-refused"
DEFAULT_OUTBOX = OutboxConfig()


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


class Sendable(Protocol):
    """An outbox row or a Parcel: what deliver() needs."""

    @property
    def sender(self) -> str: ...

    @property
    def data(self) -> bytes: ...

    @property
    def recipients(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Parcel:
    """A claimed outbox row, detached from its session so it can cross threads."""

    id: int
    ticket_id: int | None
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    data: bytes
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the relay said. `refused` lists recipients refused in a partly accepted mail."""

    outcome: Outcome
    code: int | None = None
    text: str = ""
    refused: tuple[tuple[str, int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FlushResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unreachable: str | None = None  # why the relay could not be reached, if it could not

    @property
    def claimed(self) -> int:
        return self.sent + self.retrying + self.failed


# -- deliver -------------------------------------------------------------------------------

def _temporary(exc: BaseException) -> bool:
    """4xx, network trouble and relay misconfiguration are worth another try; 5xx is not.

    Authentication failures and a missing STARTTLS are the admin's to fix, so mail waits
    for the fix (up to retry_for) instead of failing at once.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return any(400 <= r.code < 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return True
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code < 500
    return isinstance(exc, (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError,
                            TemporaryFailure))  # TemporaryFailure: no OAuth2 token yet


def _burst_worthy(exc: BaseException) -> bool:
    """A missing OAuth2 token will not come back within seconds: leave it to backoff."""
    return _temporary(exc) and not isinstance(exc, TokenUnavailable)


def _describe(exc: BaseException) -> tuple[int | None, str]:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        first = exc.recipients[0]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return first.code, text
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code, exc.message
    return None, f"{type(exc).__name__}: {exc}"


async def _send_once(item: Sendable, relay: RelayConfig) -> dict[str, SMTPResponse]:
    if relay.oauth is not None:
        return await _send_oauth2(item, relay)
    password = relay.password() if relay.username else None
    errors: dict[str, SMTPResponse]
    errors, _ = await aiosmtplib.send(
        item.data, sender=item.sender, recipients=list(item.recipients),
        hostname=relay.host, port=relay.port, username=relay.username, password=password,
        use_tls=relay.security == "tls", start_tls=relay.security == "starttls",
        timeout=relay.timeout)
    return errors


async def _send_oauth2(item: Sendable, relay: RelayConfig) -> dict[str, SMTPResponse]:
    """AUTH XOAUTH2 with the relay account's token; a refused token (535) is refreshed
    and tried once more before the refusal counts as a failed try. The refusal comes
    before MAIL FROM, so the mail cannot have gone out on the first connection."""
    assert relay.oauth is not None
    tokens = AccessTokens("relay", relay.oauth)
    try:
        return await _send_with_token(item, relay, tokens, force=False)
    except aiosmtplib.SMTPAuthenticationError as exc:
        log.info("relay: XOAUTH2 refused (%s %s); refreshing the token", exc.code, exc.message)
        return await _send_with_token(item, relay, tokens, force=True)


async def _send_with_token(item: Sendable, relay: RelayConfig, tokens: AccessTokens,
                           force: bool) -> dict[str, SMTPResponse]:
    async def token() -> str:
        return await asyncio.to_thread(tokens.get, force=force)

    errors: dict[str, SMTPResponse]
    errors, _ = await aiosmtplib.send(
        item.data, sender=item.sender, recipients=list(item.recipients),
        hostname=relay.host, port=relay.port, username=relay.username,
        oauth_token_generator=token, use_tls=relay.security == "tls",
        start_tls=relay.security == "starttls", timeout=relay.timeout)
    return errors


async def deliver(item: Sendable, relay: RelayConfig,
                  outbox: OutboxConfig = DEFAULT_OUTBOX) -> Delivery:
    """Hand one message to the relay, with a short burst of retries for 4xx and I/O errors."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(outbox.burst_attempts),
        wait=wait_exponential(multiplier=outbox.burst_wait, max=max(outbox.burst_wait, 30)),
        retry=retry_if_exception(_burst_worthy), reraise=True)
    try:
        errors: dict[str, SMTPResponse] = await retrying(_send_once, item, relay)
    except Exception as exc:  # every failure is translated into an outcome here, once
        code, text = _describe(exc)
        return Delivery(Outcome.RETRY if _temporary(exc) else Outcome.FAILED, code, text)
    refused = tuple((rcpt, r.code, r.message) for rcpt, r in errors.items())
    return Delivery(Outcome.SENT, 250, "", refused)


def deliver_sync(item: Sendable, relay: RelayConfig,
                 outbox: OutboxConfig = DEFAULT_OUTBOX) -> Delivery:
    """deliver() for the CLI and other synchronous callers."""
    return asyncio.run(deliver(item, relay, outbox))


# -- claim and record ---------------------------------------------------------------------

def _waits_for_earlier(now: datetime) -> Any:
    """An earlier mail to the same recipient about the same ticket is queued and not due."""
    earlier = aliased(Outbox)
    return exists().where(earlier.ticket_id == Outbox.ticket_id,
                          earlier.to_addr == Outbox.to_addr, earlier.id < Outbox.id,
                          earlier.state == OutboxState.QUEUED.value,
                          earlier.next_attempt_at > now)


def _due(session: Session, now: datetime, batch: int) -> list[Outbox]:
    """Due rows, oldest written first, none that would overtake an earlier one."""
    stmt = (select(Outbox)
            .where(Outbox.state == OutboxState.QUEUED.value, Outbox.next_attempt_at <= now,
                   ~_waits_for_earlier(now))
            .order_by(Outbox.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def claim(session_factory: SessionFactory, now: datetime, outbox: OutboxConfig) -> list[Parcel]:
    """Take due rows for this sender by moving them one lease into the future."""
    parcels: list[Parcel] = []
    with session_factory() as session, session.begin():
        for row in _due(session, now, outbox.batch):
            drafted = row.built is None  # queued on the ingest path: its MIME is built here
            data = row.data
            parcel = Parcel(row.id, row.ticket_id, row.message_id, row.sender,
                            tuple(row.recipients), data, row.attempts + 1, row.created_at)
            lease = (update(Outbox)
                     .where(Outbox.id == row.id, Outbox.state == OutboxState.QUEUED.value,
                            Outbox.next_attempt_at <= now)
                     .values(next_attempt_at=now + timedelta(seconds=outbox.lease),
                             attempts=Outbox.attempts + 1))
            if drafted:
                lease = lease.values({Outbox.built: data})
            taken = session.execute(lease.execution_options(synchronize_session=False))
            if getattr(taken, "rowcount", 0) == 1:
                parcels.append(parcel)
    return parcels


def renew(session_factory: SessionFactory, leases: dict[int, datetime], now: datetime,
          outbox: OutboxConfig) -> dict[int, datetime]:
    """Push the leases this sender still holds one lease past `now`; returns the new ends.

    A row is renewed only while its lease end is still the one this sender wrote: if the
    lease ran out and another sender claimed the row, that sender owns it now.
    """
    renewed: dict[int, datetime] = {}
    until = now + timedelta(seconds=outbox.lease)
    with session_factory() as session, session.begin():
        for row_id, ends in leases.items():
            held = session.execute(
                update(Outbox)
                .where(Outbox.id == row_id, Outbox.state == OutboxState.QUEUED.value,
                       Outbox.next_attempt_at == ends)
                .values(next_attempt_at=until).execution_options(synchronize_session=False))
            if getattr(held, "rowcount", 0) == 1:
                renewed[row_id] = until
    return renewed


async def _keep_leases(session_factory: SessionFactory, leases: dict[int, datetime],
                       outbox: OutboxConfig, clock: Callable[[], datetime]) -> None:
    """Renew the pass's leases every third of a lease until the pass ends (cancelled)."""
    while leases:
        await asyncio.sleep(outbox.lease / 3)
        try:
            renewed = await asyncio.to_thread(renew, session_factory, dict(leases), clock(),
                                              outbox)
        except Exception:
            log.exception("outbox: could not renew leases; they end at their due time")
            continue
        for row_id, until in renewed.items():
            if row_id in leases:
                leases[row_id] = until


def backoff(attempts: int, outbox: OutboxConfig) -> timedelta:
    """Wait before the next pass: backoff, doubled per attempt, capped at backoff_max."""
    exponent = min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(outbox.backoff * 2 ** exponent, outbox.backoff_max))


def _event(session: Session, parcel: Parcel, action: str, now: datetime,
           detail: dict[str, Any], reason: str) -> None:
    if parcel.ticket_id is None:
        return
    base = {"outbox_id": parcel.id, "message_id": parcel.message_id,
            "recipients": list(parcel.recipients)}
    session.add(Event(ticket_id=parcel.ticket_id, at=now, actor="system", action=action,
                      detail={**base, **detail}, reason=reason))


def _fail(session: Session, row: Outbox, parcel: Parcel, delivery: Delivery,
          now: datetime, reason: str) -> None:
    row.state = OutboxState.FAILED.value
    row.last_error = _error_text(delivery)
    _event(session, parcel, EVENT_FAILED, now,
           {"code": delivery.code, "text": delivery.text, "attempts": parcel.attempts}, reason)
    log.warning("outbox %s <%s>: failed: %s", parcel.id, parcel.message_id, row.last_error)


def _error_text(delivery: Delivery) -> str:
    return f"{delivery.code} {delivery.text}" if delivery.code else delivery.text


def _mark_recipients(session: Session, parcel: Parcel, delivery: Delivery,
                     now: datetime) -> None:
    """Each recipient's delivery record: sent, refused by the relay, or failed."""
    refused = {r.strip().lower(): f"{c} {t}".strip() for r, c, t in delivery.refused}
    sent_to = {r.strip().lower() for r in parcel.recipients}
    for record in session.scalars(select(DeliveryRecord).where(
            DeliveryRecord.outbox_id == parcel.id,
            DeliveryRecord.state != OutboxState.BOUNCED.value)):
        if record.email not in sent_to:
            continue  # a copy left out when the mail was written
        if delivery.outcome is Outcome.SENT and record.email in refused:
            record.state, record.error = "refused", refused[record.email]
        elif delivery.outcome is Outcome.SENT:
            record.state, record.error = OutboxState.SENT.value, None
        else:
            record.state, record.error = OutboxState.FAILED.value, _error_text(delivery)
        record.updated_at = now


def _apply(session: Session, row: Outbox, parcel: Parcel, delivery: Delivery, now: datetime,
           relay: RelayConfig, outbox: OutboxConfig) -> Outcome:
    outcome = _outcome(session, row, parcel, delivery, now, relay, outbox)
    if outcome is not Outcome.RETRY:
        _mark_recipients(session, parcel, delivery, now)
    return outcome


def _outcome(session: Session, row: Outbox, parcel: Parcel, delivery: Delivery, now: datetime,
             relay: RelayConfig, outbox: OutboxConfig) -> Outcome:
    if delivery.outcome is Outcome.SENT:
        row.state, row.sent_at, row.last_error = OutboxState.SENT.value, now, None
        if delivery.refused:
            refused = [{"recipient": r, "code": c, "text": t} for r, c, t in delivery.refused]
            _event(session, parcel, EVENT_PARTIAL, now, {"refused": refused},
                   "the relay refused some recipients")
        log.info("outbox %s <%s>: sent", parcel.id, parcel.message_id)
        return Outcome.SENT
    if delivery.outcome is Outcome.FAILED:
        _fail(session, row, parcel, delivery, now, "the relay refused the mail permanently")
        return Outcome.FAILED
    if now >= parcel.created_at + timedelta(seconds=relay.retry_for):
        _fail(session, row, parcel, delivery, now,
              f"still failing after {timedelta(seconds=relay.retry_for)}; gave up")
        return Outcome.FAILED
    row.next_attempt_at, row.last_error = now + backoff(parcel.attempts, outbox), _error_text(delivery)
    log.info("outbox %s <%s>: retry at %s: %s", parcel.id, parcel.message_id,
             row.next_attempt_at.isoformat(), row.last_error)
    return Outcome.RETRY


def record(session_factory: SessionFactory, parcel: Parcel, delivery: Delivery,
           now: datetime, relay: RelayConfig, outbox: OutboxConfig) -> Outcome | None:
    """Write the outcome; None when the row was changed meanwhile (cancelled by an admin)."""
    with session_factory() as session, session.begin():
        row = session.get(Outbox, parcel.id)
        if row is None or row.state != OutboxState.QUEUED.value:
            return None
        return _apply(session, row, parcel, delivery, now, relay, outbox)


# -- passes --------------------------------------------------------------------------------

def unreachable(delivery: Delivery) -> bool:
    """The relay never answered (refused connection, timeout, DNS): no row can go now."""
    return delivery.outcome is Outcome.RETRY and delivery.code is None


def _key(parcel: Parcel) -> tuple[int, str] | None:
    if parcel.ticket_id is None or not parcel.recipients:
        return None
    return parcel.ticket_id, parcel.recipients[0].strip().lower()


async def flush(session_factory: SessionFactory, relay: RelayConfig, now: datetime,
                outbox: OutboxConfig = DEFAULT_OUTBOX,
                clock: Callable[[], datetime] | None = None) -> FlushResult:
    """One pass over the due rows. Database work runs in a thread to keep the loop free.

    The rows not yet recorded keep their lease while the pass runs (renewed on `clock`).
    """
    parcels = await asyncio.to_thread(claim, session_factory, now, outbox)
    leases = {p.id: now + timedelta(seconds=outbox.lease) for p in parcels}
    keeper = asyncio.ensure_future(_keep_leases(session_factory, leases, outbox,
                                                clock or (lambda: datetime.now(UTC))))
    counts = {outcome: 0 for outcome in Outcome}
    down: Delivery | None = None
    held: set[tuple[int, str]] = set()  # (ticket, recipient) whose earlier mail did not go
    try:
        for parcel in parcels:
            key = _key(parcel)
            if down is not None:
                delivery = down
            elif key is not None and key in held:
                delivery = Delivery(Outcome.RETRY, None, "waiting for an earlier mail")
            else:
                delivery = await deliver(parcel, relay, outbox)
                down = delivery if unreachable(delivery) else None
            leases.pop(parcel.id, None)  # decided for this pass: no more renewals
            if delivery.outcome is not Outcome.SENT and key is not None:
                held.add(key)
            outcome = await asyncio.to_thread(record, session_factory, parcel, delivery, now,
                                              relay, outbox)
            if outcome is not None:
                counts[outcome] += 1
    finally:
        keeper.cancel()
    return FlushResult(counts[Outcome.SENT], counts[Outcome.RETRY], counts[Outcome.FAILED],
                       down.text if down is not None else None)


def make_due(session_factory: SessionFactory, now: datetime, only: int | None = None) -> int:
    """Make queued mail due now, backoff or not (`postqueue -f`); with `only`, that row
    and the earlier queued mail to its recipient about its ticket. Returns rows changed.

    A row a running daemon claimed a moment ago is due again too: at worst it goes out
    twice with the same Message-ID, which clients show once.
    """
    with session_factory() as session, session.begin():
        where = [Outbox.state == OutboxState.QUEUED.value, Outbox.next_attempt_at > now]
        if only is not None:
            row = session.get(Outbox, only)
            if row is None:
                return 0
            where += [Outbox.id <= row.id] + ([Outbox.ticket_id == row.ticket_id,
                                               Outbox.to_addr == row.to_addr]
                                              if row.ticket_id is not None else
                                              [Outbox.id == row.id])
        result = session.execute(update(Outbox).where(*where).values(next_attempt_at=now)
                                 .execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)


def flush_once(session_factory: SessionFactory, relay_config: RelayConfig,
               now: datetime | None = None, outbox: OutboxConfig = DEFAULT_OUTBOX
               ) -> FlushResult:
    """One pass, synchronously (for `maildesk tick` and tests)."""
    return asyncio.run(flush(session_factory, relay_config, now or datetime.now(UTC), outbox))


async def _sleep(stop_event: asyncio.Event, poke: asyncio.Event | None, seconds: float) -> None:
    """Sleep until the interval passes, the outbox is poked, or the daemon stops."""
    await wait_any(stop_event, poke, seconds)
    if poke is not None:
        poke.clear()


async def run_sender(stop_event: asyncio.Event, session_factory: SessionFactory,
                     relay: RelayConfig, outbox: OutboxConfig = DEFAULT_OUTBOX, *,
                     poke: asyncio.Event | None = None,
                     clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                     relay_of: Callable[[], RelayConfig] | None = None) -> None:
    """The daemon's sender: a pass, then sleep (or go again at once after a full batch).

    Set `poke` after queueing mail to send it without waiting for the interval. Errors
    of a pass (database down) are logged and the loop carries on; rows stay queued.
    `relay_of`, when given, is asked for the relay before each pass (live reload).
    """
    while not stop_event.is_set():
        try:
            current = relay_of() if relay_of is not None else relay
            result = await flush(session_factory, current, clock(), outbox, clock)
        except Exception:
            log.exception("outbox pass failed; retrying in %s s", outbox.interval)
            result = FlushResult()
        if result.claimed < outbox.batch:
            await _sleep(stop_event, poke, outbox.interval)
