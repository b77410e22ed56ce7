"""Ticket numbers: unique, increasing, gaps allowed; on PostgreSQL no lock between mails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text

from maildesk.store.db import make_engine, make_sessionmaker
from maildesk.store.migrate import upgrade
from maildesk.store.models import Contact, Counter, Ticket, utcnow
from maildesk.tickets.operations import open_ticket
from tests.conftest import fresh_pg_database


def _open(session, subject: str = "Printer") -> Ticket:  # noqa: ANN001
    contact = session.execute(select(Contact)).scalars().first()
    if contact is None:
        contact = Contact(email="ana@customer.example", name="Ana", vip=False,
                          created_at=utcnow())
        session.add(contact)
        session.flush()
    return open_ticket(session, prefix="MD", customer=contact, subject=subject, channel="pipe",
                       now=utcnow())


def test_numbers_are_unique_and_survive_a_rollback(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        first = _open(session).number
    with pytest.raises(RuntimeError), sessions.begin() as session:
        _open(session)
        raise RuntimeError("the mail's processing failed")
    with sessions.begin() as session:
        second = _open(session)
        assert second.ref == f"MD-{second.number}"
    with sessions() as session:
        numbers = session.execute(select(Ticket.number).order_by(Ticket.number)).scalars().all()
    assert first == 1 and second.number > first and numbers == [first, second.number]


def test_postgres_daemons_do_not_wait_on_each_others_numbers(pg_url: str) -> None:
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            _open(session, "an earlier mail")  # the customer exists before both mails
        slow = sessions()
        slow.begin()
        try:
            held = _open(slow, "first mail, still being processed")
            with sessions.begin() as fast:
                # The old counters row lock would block here until `slow` committed.
                fast.execute(text("SET LOCAL lock_timeout = '3s'"))
                other = _open(fast, "second mail")
            slow.commit()
        finally:
            slow.close()
        assert held.number != other.number
    finally:
        engine.dispose()


@pytest.fixture
def pg_at_0002() -> Iterator[str]:
    """An empty database of its own, for a migration run from 0002."""
    with fresh_pg_database("seq") as url:
        yield url


def test_postgres_sequence_continues_after_the_counter(pg_at_0002: str) -> None:
    engine = make_engine(pg_at_0002)
    try:
        upgrade(engine, "0002")
        with make_sessionmaker(engine).begin() as session:
            session.add(Counter(name="ticket", value=41))
        upgrade(engine)
        with make_sessionmaker(engine).begin() as session:
            assert _open(session).ref == "MD-42"
    finally:
        engine.dispose()
