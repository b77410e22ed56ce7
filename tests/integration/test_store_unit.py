"""One transaction per mail: rows loaded once, events written in one statement."""

from __future__ import annotations

import collections
from typing import Any

from sqlalchemy import event, func, select

from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.db import transaction
from maildesk.store.models import Event, Ticket
from maildesk.store.queries import log_event
from maildesk.types import RawMail, Source
from tests.conftest import eml


def _statements(desk: Desk) -> collections.Counter[str]:
    seen: collections.Counter[str] = collections.Counter()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        table = words[2] if words[0] == "INSERT" else next(
            (w for w, prev in zip(words[1:], words, strict=False) if prev == "FROM"), "")
        seen[f"{words[0]} {table}"] += 1

    event.listen(desk.engine, "before_cursor_execute", count)
    return seen


def test_a_new_ticket_writes_its_events_at_once_and_reads_its_rows_once(desk: Desk) -> None:
    seen = _statements(desk)
    outcome = accept(desk, RawMail(eml("gmail/01-original.eml"), Source.PIPE)).outcome
    assert outcome is not None and outcome.kind == "new-ticket"
    assert seen["INSERT events"] == 1
    assert seen["SELECT contacts"] <= 1 and seen["SELECT tickets"] <= 2
    with desk.sessions() as session:
        actions = session.execute(select(Event.action).order_by(Event.id)).scalars().all()
    assert actions[0] == "created" and "threaded" in actions and len(actions) >= 3


def test_events_are_seen_within_the_transaction_and_dropped_with_a_rollback(desk: Desk) -> None:
    accept(desk, RawMail(eml("gmail/01-original.eml"), Source.PIPE))
    with desk.sessions() as session:
        ticket_id = session.execute(select(Ticket.id)).scalar_one()
        before = session.execute(select(func.count()).select_from(Event)).scalar_one()
    with transaction(desk.sessions) as session:
        log_event(session, ticket_id, "admin", "note-a")
        log_event(session, ticket_id, "admin", "note-b", {"n": 2}, "why")
        mine = session.execute(select(Event.action, Event.detail).where(
            Event.action.like("note-%")).order_by(Event.id)).all()
        assert [tuple(r) for r in mine] == [("note-a", {}), ("note-b", {"n": 2})]
        log_event(session, ticket_id, "admin", "note-c")  # after the read: still written
    session = desk.sessions()
    try:
        log_event(session, ticket_id, "admin", "note-lost")
        session.rollback()
    finally:
        session.close()
    with desk.sessions() as session:
        actions = session.execute(select(Event.action).where(Event.action.like("note-%"))
                                  .order_by(Event.id)).scalars().all()
        total = session.execute(select(func.count()).select_from(Event)).scalar_one()
    assert actions == ["note-a", "note-b", "note-c"] and total == before + 3
