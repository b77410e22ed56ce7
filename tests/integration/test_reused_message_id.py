"""A different mail reusing a Message-ID is kept; the same mail delivered again is not.

On both engines, through accept() (every intake), the MTA pipe's store-only path and rows
stored before fingerprints were kept. The SMTP and LMTP listener cases are in
test_smtp_intake.py.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.models import Event, Message, RawMessage, Ticket
from maildesk.store.rawpipe import sqlite_path, store_raw_sqlite
from maildesk.tickets.views import ticket_detail
from maildesk.types import RawMail, Source
from tests.conftest import eml

MID = "20261130091358.reports@host.customer-corp.example"


def deliver(desk: Desk, name: str, source: Source = Source.SMTP):  # noqa: ANN201
    return accept(desk, RawMail(eml(name), source, envelope_to=("support@acme.example",)))


def raw_count(desk: Desk) -> int:
    with desk.sessions() as session:
        return session.scalar(select(func.count()).select_from(RawMessage))


def test_a_different_mail_reusing_the_id_is_stored_and_flagged(desk: Desk) -> None:
    first = deliver(desk, "reused/01-original.eml")
    assert first.outcome.kind == "new-ticket"
    again = deliver(desk, "reused/02-same-again-by-imap.eml", Source.IMAP)
    assert (again.raw_id, again.duplicate, again.outcome) == (first.raw_id, True, None)
    other = deliver(desk, "reused/03-different-mail-same-id.eml")
    assert not other.duplicate and other.raw_id != first.raw_id
    assert other.outcome.kind in ("new-ticket", "threaded")
    assert deliver(desk, "reused/03-different-mail-same-id.eml").duplicate  # its own retry
    assert raw_count(desk) == 2
    with desk.sessions() as session:
        stored = session.execute(select(RawMessage).order_by(RawMessage.id)).scalars().all()
        assert [r.data for r in stored] == [eml("reused/01-original.eml"),
                                            eml("reused/03-different-mail-same-id.eml")]
        assert {r.message_id for r in stored} == {MID}
        message = session.execute(select(Message).where(Message.raw_id == other.raw_id)
                                  ).scalar_one()
        assert message.subject == "Backup job failed on fileserver-02"
        assert message.flagged and "reuses the Message-ID" in message.flag_reason
        ticket = session.get(Ticket, message.ticket_id)
        shown = ticket_detail(session, ticket)
        events = [e for e in shown["events"] if e["action"] == "reused-message-id"]
        assert len(events) == 1 and events[0]["detail"]["earlier_ticket"] == first.outcome.ref
        first_message = session.execute(select(Message).where(
            Message.raw_id == first.raw_id)).scalar_one()
        assert not first_message.flagged
        assert session.scalar(select(func.count()).select_from(Event).where(
            Event.action == "reused-message-id")) == 1


def test_the_pipe_store_path_tells_them_apart_too(desk: Desk, db_url: str) -> None:
    """`maildesk ingest --no-process`: the stdlib SQLite path, or SQLAlchemy's; and rows
    stored before fingerprints were kept (NULL: computed from their bytes)."""
    path = sqlite_path(db_url)

    def store(name: str) -> tuple[int, bool]:
        raw = RawMail(eml(name), Source.PIPE)
        if path is not None:
            return store_raw_sqlite(path, raw, MID)
        from maildesk.store.db import transaction
        from maildesk.store.queries import store_raw
        with transaction(desk.sessions) as session:
            return store_raw(session, raw, MID)

    first_id, created = store("reused/01-original.eml")
    assert created
    assert store("reused/02-same-again-by-imap.eml") == (first_id, False)
    other_id, created = store("reused/03-different-mail-same-id.eml")
    assert created and other_id != first_id
    assert store("reused/03-different-mail-same-id.eml") == (other_id, False)
    with desk.sessions.begin() as session:  # as stored before fingerprints were kept
        session.execute(update(RawMessage).values(fingerprint=None))
    assert deliver(desk, "reused/02-same-again-by-imap.eml").raw_id == first_id
    assert store("reused/03-different-mail-same-id.eml") == (other_id, False)
    assert raw_count(desk) == 2
