"""`maildesk privacy export|erase` and [retention], on SQLite and PostgreSQL.

Erasure is proven by looking for the person's address and a phrase of their mail in
the SQLite file itself (after the VACUUM erase runs) and in every file of the storage
directory; on PostgreSQL by queries over every table that holds text or bytes.
"""

from __future__ import annotations

import io
import json
import mailbox
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, cast, func, or_, select

from maildesk.cli.main import main
from maildesk.pipeline.flow import accept
from maildesk.privacy import retention
from maildesk.runtime.desk import Desk
from maildesk.store.models import (
    AttachmentRow,
    Blob,
    Contact,
    Delivery,
    Event,
    Message,
    Outbox,
    Participant,
    RawMessage,
    Ticket,
)
from maildesk.types import RawMail, Source, TicketStatus
from tests.conftest import eml
from tests.integration.test_tick import make_desk

EMAIL, PHRASE = "marta@cliente.example", "Garbanzo"


@pytest.fixture
def privacy_desk(tmp_path: Path, db_url: str) -> Iterator[Desk]:
    desk = make_desk(tmp_path / "desk", db_url, '[retention]\nraw_days = 30\n')
    accept(desk, RawMail(eml("privacy/marta.eml"), Source.SMTP))
    accept(desk, RawMail(eml("privacy/colleague_cc.eml"), Source.SMTP))
    yield desk
    desk.close()


def cli(desk: Desk, *argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), "privacy", *argv])
    assert exit_.value.code == 0
    return out.getvalue()


def count(desk: Desk, model: type) -> int:
    with desk.sessions() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_export_holds_everything_about_the_person(privacy_desk: Desk, tmp_path: Path) -> None:
    out = tmp_path / "export"
    cli(privacy_desk, "export", EMAIL, "--out", str(out))
    assert json.loads((out / "contact.json").read_text())["name"] == "Marta Ruiz"
    tickets = json.loads((out / "tickets.json").read_text())
    assert len(tickets) == 1 and PHRASE in tickets[0]["messages"][0]["text"]
    mails = list(mailbox.mbox(str(out / "mail.mbox")))
    assert len(mails) == 1 and mails[0]["Message-ID"] == "<marta-1@cliente.example>"
    files = list((out / "attachments").iterdir())
    assert [f.read_text().strip() for f in files] == ["Garbanzo attachment 77341"]
    events = json.loads((out / "events.json").read_text())
    assert any(e["action"] == "created" for e in events)
    assert (out / "surveys.json").exists() and (out / "messages.json").exists()


def leftovers(desk: Desk) -> list[str]:
    """Where the address or the phrase still is: files of the storage dir, and the
    database (the file on SQLite, every text and byte column on PostgreSQL)."""
    found = [str(p) for p in desk.config.storage.dir.rglob("*") if p.is_file()
             and (EMAIL.encode() in p.read_bytes().lower() or PHRASE.encode() in p.read_bytes())]
    if desk.engine.dialect.name == "sqlite":
        desk.engine.dispose()
        db = Path(desk.config.database.url.removeprefix("sqlite:///"))
        for path in (db, db.with_name(db.name + "-wal")):
            data = path.read_bytes() if path.exists() else b""
            if EMAIL.encode() in data.lower() or PHRASE.encode() in data:
                found.append(str(path))
        return found
    columns = {RawMessage: [RawMessage.data], Outbox: [Outbox.data, Outbox.recipients],
               Message: [Message.text, Message.html, Message.from_addr, Message.to_addrs,
                         Message.cc_addrs, Message.subject],
               Event: [Event.actor, Event.detail, Event.reason],
               Contact: [Contact.email, Contact.name], Ticket: [Ticket.subject, Ticket.watchers],
               Delivery: [Delivery.email], Participant: [Participant.email, Participant.name]}
    with desk.sessions() as session:
        for model, cols in columns.items():
            for col in cols:
                text = cast(col, String) if col not in (RawMessage.data, Outbox.data) else \
                    func.encode(col, "escape")
                hits = session.execute(select(func.count()).select_from(model).where(or_(
                    text.ilike(f"%{EMAIL}%"), text.like(f"%{PHRASE}%")))).scalar_one()
                if hits:
                    found.append(f"{model.__tablename__}.{col.key}")
    return found


def test_erase_leaves_no_copy_and_keeps_the_figures(privacy_desk: Desk) -> None:
    desk = privacy_desk
    before = {m: count(desk, m) for m in (Ticket, Message, Event)}
    dry = cli(desk, "erase", EMAIL, "--dry-run")
    assert dry.startswith("would erase") and count(desk, RawMessage) == 2
    assert leftovers(desk)  # the dry run changed nothing
    done = json.loads(cli(desk, "erase", EMAIL).removeprefix("erased: "))
    assert done["tickets"] == 1 and done["raw"] == 1 and done["attachments"] == 1
    assert leftovers(desk) == []
    after = {m: count(desk, m) for m in (Ticket, Message)}
    assert after == {Ticket: before[Ticket], Message: before[Message]}
    assert count(desk, Event) > before[Event]  # the erasure is on the record
    with desk.sessions() as session:
        pedro = session.execute(select(Ticket).where(Ticket.subject == "Pedido 311 sin entregar")
                                ).scalar_one()
        cc = session.execute(select(Message.cc_addrs).where(
            Message.ticket_id == pedro.id, Message.direction == "in")).scalar_one()
    assert cc == [done["pseudonym"]]
    # The same mail arriving again is new mail: nothing remembers it.
    again = accept(desk, RawMail(eml("privacy/marta.eml"), Source.SMTP))
    assert not again.duplicate and again.outcome is not None
    assert again.outcome.kind == "new-ticket"
    # Erasing them again folds the new contact into the same pseudonym.
    second = json.loads(cli(desk, "erase", EMAIL).removeprefix("erased: "))
    assert second["pseudonym"] == done["pseudonym"] and second["tickets"] == 1
    with desk.sessions() as session:
        assert session.execute(select(func.count()).select_from(Contact).where(
            Contact.email == done["pseudonym"])).scalar_one() == 1
        assert session.execute(select(func.count(func.distinct(Ticket.customer_id))).where(
            Ticket.subject != "Pedido 311 sin entregar")).scalar_one() == 1


def test_retention_purges_old_raw_bytes_and_attachments(privacy_desk: Desk) -> None:
    desk = privacy_desk
    later = desk.clock() + timedelta(days=31)
    from dataclasses import replace

    from maildesk.config.model import RetentionConfig

    aged = replace(desk, config=replace(desk.config, retention=RetentionConfig(
        raw_days=30, attachments_days=30, closed_ticket_days=0)))
    done = retention.apply(aged, later)
    assert (done.raw, done.attachments) == (2, 1)
    with desk.sessions() as session:
        assert session.execute(select(func.count()).select_from(RawMessage)
                               .where(RawMessage.data != b"")).scalar_one() == 0
        assert session.execute(select(Blob.purged_at)).scalar_one() is not None
        assert session.execute(select(func.count()).select_from(AttachmentRow)).scalar_one() == 1
        state = retention.status(session, aged.config.retention)
    assert state["raw_purged"] == 2 and state["last_run"]
    assert not list(desk.attachments_root.rglob("*.*")) and \
        not [p for p in desk.attachments_root.rglob("*") if p.is_file()]
    # A redelivery of processed mail is still a duplicate after its bytes are gone.
    assert accept(desk, RawMail(eml("privacy/marta.eml"), Source.SMTP)).duplicate


def test_retention_erases_customers_of_long_closed_tickets(privacy_desk: Desk) -> None:
    desk = privacy_desk
    from dataclasses import replace

    from maildesk.config.model import RetentionConfig
    from maildesk.tickets.operations import find_ticket_by_ref

    with desk.sessions.begin() as session:
        for ticket in session.execute(select(Ticket)).scalars():
            ticket.status, ticket.closed_at = TicketStatus.CLOSED, desk.clock()
        assert find_ticket_by_ref(session, "MD-1") is not None
    aged = replace(desk, config=replace(desk.config, retention=RetentionConfig(
        closed_ticket_days=365)))
    assert retention.apply(aged, desk.clock() + timedelta(days=100)).customers == 0
    assert retention.apply(aged, desk.clock() + timedelta(days=400)).customers == 2
    with desk.sessions() as session:
        emails = session.execute(select(Contact.email)).scalars().all()
    assert all(e.endswith("@erased.invalid") for e in emails)
