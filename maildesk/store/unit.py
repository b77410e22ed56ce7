"""What one unit of work keeps in memory: the rows it loaded, and the events it logged.

Processing one mail used to send the same rows to the database several times: the
session's identity map holds objects weakly, so a Contact or Ticket a stage had loaded
and let go of was gone when the next stage asked `session.get` for it, and every
`log_event` became its own INSERT at the next autoflush (a dozen per new ticket).

Sessions made by `store.db.make_sessionmaker` therefore

- keep a strong reference to every row they load or insert until the transaction ends,
  so `session.get` of a row seen earlier in the transaction costs no statement (after
  the transaction the rows are referenced as usual, and a later transaction reads afresh);
- buffer the events `store.queries.log_event` records and write them in one multi-row
  INSERT just before the commit, after the ORM's own flush (events point at tickets).
  A statement on the events table in the same transaction writes the buffer first, so
  code that reads (or updates) the log sees what it just logged. A rollback drops the buffer with
  everything else.

A session made otherwise (a bare `Session(engine)`) gets the ORM's usual behaviour:
`log_event` adds the Event row at once.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from maildesk.store.models import Event

ENABLED = "maildesk.unit"  # the flag in Session.info set by make_sessionmaker
EVENTS = "maildesk.events"
PINNED = "maildesk.pinned"
# Callables (session, rows) that see the buffered events just before they are written,
# in the same transaction: the webhook queue (webhooks/queue.py) reads its events here.
ON_WRITE = "maildesk.on_events"


def install(factory: sessionmaker[Session]) -> None:
    """Give the factory's sessions the behaviour above."""
    factory.configure(info={ENABLED: True})
    event.listen(factory, "loaded_as_persistent", _pin)
    event.listen(factory, "pending_to_persistent", _pin)
    event.listen(factory, "before_commit", write_events)
    event.listen(factory, "do_orm_execute", _before_query)
    event.listen(factory, "after_transaction_end", _end)


def buffered(session: Session) -> bool:
    return bool(session.info.get(ENABLED))


def add_event(session: Session, values: dict[str, Any]) -> None:
    """Queue one event row for the multi-row insert at commit."""
    session.info.setdefault(EVENTS, []).append(values)


def write_events(session: Session) -> None:
    """Flush the ORM, then insert the buffered events in one statement."""
    rows = session.info.pop(EVENTS, None)
    if not rows:
        return
    for callback in session.info.get(ON_WRITE, ()):
        callback(session, rows)
    session.flush()
    session.execute(insert(cast(Table, Event.__table__)), rows)


def _pin(session: Session, instance: Any) -> None:
    session.info.setdefault(PINNED, []).append(instance)


def _before_query(state: ORMExecuteState) -> None:
    if state.session.info.get(EVENTS) and any(  # a read, or an UPDATE/DELETE of events
            mapper.class_ is Event for mapper in state.all_mappers):
        write_events(state.session)


def _end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: commit or rollback
        session.info.pop(EVENTS, None)
        session.info.pop(PINNED, None)
