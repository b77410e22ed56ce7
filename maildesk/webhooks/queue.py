"""The durable webhook queue: rows written in the transaction that logs the event.

`install` binds a listener to the desk's sessionmaker (runtime/desk.py calls it once):
before each flush it looks at the events being inserted and the outbox rows being
marked sent, and adds one `webhook_deliveries` row per hook that asked for that event
type. The rows commit or roll back with the change they report, so a webhook never
announces something that did not happen, and nothing that happened is lost.

Which hooks exist is read from `session.info["webhooks"]` (set on the sessionmaker, and
updated by a reload).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import get_history

from maildesk.config.integrations import WebhookConfig
from maildesk.store import unit
from maildesk.store.models import Contact, Event, Outbox, Ticket, WebhookDelivery, WebhookState
from maildesk.tickets.views import ticket_summary
from maildesk.webhooks.events import MESSAGE_SENT, body, event_type

HOOKS = "webhooks"
QUEUED, DELIVERED = "queued", "delivered"


def install(sessions: sessionmaker[Session], hooks: Sequence[WebhookConfig]) -> None:
    """Queue deliveries for `hooks` from every session this factory makes."""
    configure(sessions, hooks)
    if not event.contains(sessions, "before_flush", _before_flush):
        event.listen(sessions, "before_flush", _before_flush)


def configure(sessions: sessionmaker[Session], hooks: Sequence[WebhookConfig]) -> None:
    """The hooks for sessions made from now on (a reload calls this)."""
    info = dict(sessions.kw.get("info") or {})
    info[HOOKS] = tuple(hooks)
    info[unit.ON_WRITE] = (_buffered,) if hooks else ()
    sessions.configure(info=info)


def _buffered(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Events buffered by store/unit.py (one insert at commit) queue their deliveries too."""
    hooks: tuple[WebhookConfig, ...] = session.info.get(HOOKS, ())
    with session.no_autoflush:
        for row in rows:
            _queue_event(session, hooks, row["action"], row["ticket_id"], row["at"],
                         row["actor"], row.get("detail"))


def _queue_event(session: Session, hooks: Sequence[WebhookConfig], action: str,
                 ticket_id: int | None, at: datetime, actor: str,
                 detail: dict[str, Any] | None) -> None:
    """An event-log row, however it is written, as the webhook event it stands for."""
    kind = event_type(action)
    if kind:
        enqueue(session, hooks, kind, ticket_id, at, actor, detail or {})


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    hooks: tuple[WebhookConfig, ...] = session.info.get(HOOKS, ())
    if not hooks:
        return
    with session.no_autoflush:
        for obj in list(session.new):
            if isinstance(obj, Event):
                _queue_event(session, hooks, obj.action, obj.ticket_id, obj.at, obj.actor,
                             obj.detail)
        for obj in list(session.dirty):
            if isinstance(obj, Outbox) and "sent" in (get_history(obj, "state").added or ()):
                enqueue(session, hooks, MESSAGE_SENT, obj.ticket_id, obj.sent_at or obj.created_at,
                        "system", {"outbox_id": obj.id, "kind": obj.kind,
                                   "message_id": obj.message_id, "recipients": obj.recipients})


def enqueue(session: Session, hooks: Iterable[WebhookConfig], kind: str, ticket_id: int | None,
            at: datetime, actor: str, data: dict[str, Any]) -> int:
    """One delivery row per hook subscribed to `kind`; the number queued."""
    wanted = [h for h in hooks if kind in h.events]
    if not wanted:
        return 0
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    summary = ticket_summary(ticket, session.get(Contact, ticket.customer_id)) if ticket else None
    event_id, text = body(kind, at, actor, summary, data)
    for hook in wanted:
        session.add(WebhookDelivery(hook=hook.name, event=kind, event_id=event_id,
                                    ticket_id=ticket_id, body=text, state=QUEUED, attempts=0,
                                    next_attempt_at=at, created_at=at))
    return len(wanted)


# -- what the worker and the CLI read and write ----------------------------------------------

def head(session: Session, hook: str) -> WebhookDelivery | None:
    """The hook's oldest undelivered row: nothing later goes before it (per-hook order)."""
    return session.execute(select(WebhookDelivery).where(
        WebhookDelivery.hook == hook, WebhookDelivery.state == QUEUED)
        .order_by(WebhookDelivery.id).limit(1)).scalar_one_or_none()


def state_of(session: Session, hook: str) -> WebhookState:
    row = session.get(WebhookState, hook)
    if row is None:
        row = WebhookState(hook=hook, failures=0)
        session.add(row)
    return row


def is_paused(session: Session, hook: str) -> bool:
    row = session.get(WebhookState, hook)
    return row is not None and row.paused_at is not None


def record_success(session: Session, row: WebhookDelivery, status: int, now: datetime) -> None:
    row.state, row.delivered_at, row.last_status, row.last_error = DELIVERED, now, status, None
    row.attempts += 1
    state = state_of(session, row.hook)
    state.failures, state.last_error, state.last_success_at = 0, None, now


def backoff(hook: WebhookConfig, attempts: int) -> float:
    """Pure: seconds to wait after the attempts-th failure (doubling, capped)."""
    return float(min(hook.backoff * 2 ** max(attempts - 1, 0), hook.backoff_max))


def record_failure(session: Session, row: WebhookDelivery, hook: WebhookConfig,
                   status: int | None, error: str, now: datetime) -> bool:
    """Schedule the retry; pause the hook after pause_after failures in a row. True if paused."""
    row.attempts += 1
    row.last_status, row.last_error = status, error[:2000]
    row.next_attempt_at = now + timedelta(seconds=backoff(hook, row.attempts))
    state = state_of(session, row.hook)
    state.failures += 1
    state.last_error = error[:2000]
    if state.failures >= hook.pause_after and state.paused_at is None:
        state.paused_at = now
        return True
    return False


def retry(session: Session, now: datetime, *, hook: str | None = None,
          delivery: int | None = None) -> int:
    """Resume paused hooks and make their queued rows due now; the rows made due.

    A delivered row named by `delivery` is queued again (a copy at the end of its queue,
    same event id, so a receiver that keeps ids sees a repeat it can ignore).
    """
    if delivery is not None:
        found = session.get(WebhookDelivery, delivery)
        if found is None:
            return 0
        hook = found.hook
        if found.state != QUEUED:
            session.add(WebhookDelivery(hook=found.hook, event=found.event,
                                        event_id=found.event_id, ticket_id=found.ticket_id,
                                        body=found.body, state=QUEUED, attempts=0,
                                        next_attempt_at=now, created_at=now))
            session.flush()
    rows = update(WebhookDelivery).where(WebhookDelivery.state == QUEUED)
    states = update(WebhookState)
    if hook is not None:
        rows = rows.where(WebhookDelivery.hook == hook)
        states = states.where(WebhookState.hook == hook)
    session.execute(states.values(paused_at=None, failures=0))
    result = session.execute(rows.values(next_attempt_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def overview(session: Session, hooks: Sequence[WebhookConfig]) -> list[dict[str, Any]]:
    """Per configured hook: queued rows, failures in a row, paused since, last error."""
    queued = dict(session.execute(select(WebhookDelivery.hook, func.count())
                                  .where(WebhookDelivery.state == QUEUED)
                                  .group_by(WebhookDelivery.hook)).all())
    out = []
    for hook in hooks:
        state = session.get(WebhookState, hook.name)
        out.append({"name": hook.name, "url": hook.url, "events": list(hook.events),
                    "queued": int(queued.get(hook.name, 0)),
                    "failures": state.failures if state else 0,
                    "paused_at": state.paused_at.isoformat() if state and state.paused_at else None,
                    "last_error": state.last_error if state else None,
                    "last_success_at": (state.last_success_at.isoformat()
                                        if state and state.last_success_at else None)})
    return out


def deliveries(session: Session, *, hook: str | None = None, state: str | None = None,
               limit: int = 50) -> list[dict[str, Any]]:
    query = select(WebhookDelivery, Ticket.ref).outerjoin(
        Ticket, Ticket.id == WebhookDelivery.ticket_id)
    if hook:
        query = query.where(WebhookDelivery.hook == hook)
    if state:
        query = query.where(WebhookDelivery.state == state)
    rows = session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit)).all()
    return [{"id": d.id, "hook": d.hook, "event": d.event, "event_id": d.event_id,
             "ticket": ref, "state": d.state, "attempts": d.attempts,
             "next_attempt_at": d.next_attempt_at.isoformat(), "last_status": d.last_status,
             "last_error": d.last_error, "created_at": d.created_at.isoformat(),
             "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None}
            for d, ref in rows]
