"""`maildesk ingest --no-process`: the MTA pipe that only stores, processed later by recover."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from maildesk.config.model import load_config
from maildesk.pipeline.flow import recover
from maildesk.runtime.desk import open_desk
from maildesk.store.models import RawMessage, Ticket
from tests.conftest import eml, write_desk
from tests.integration.test_cli import EX_TEMPFAIL, maildesk


def test_no_process_stores_and_recover_tickets_it(tmp_path: Path, db_url: str) -> None:
    config = write_desk(tmp_path / "desk", db_url)
    done = maildesk(config, "ingest", "--no-process", "-f", "ana@customer.example",
                    "-r", "Support@Acme.example", stdin=eml("gmail/01-original.eml"))
    assert done.returncode == 0, done.stderr
    assert b"stored" in done.stdout
    desk = open_desk(load_config(config))
    try:
        with desk.sessions() as session:
            raw = session.execute(select(RawMessage)).scalar_one()
            assert (raw.state, raw.source, raw.envelope_to) == ("received", "pipe",
                                                                 "support@acme.example")
            assert raw.data == eml("gmail/01-original.eml")
            assert session.execute(select(func.count(Ticket.id))).scalar_one() == 0
        again = maildesk(config, "ingest", "--no-process", stdin=eml("gmail/01-original.eml"))
        assert again.returncode == 0 and b"duplicate" in again.stdout
        assert recover(desk, older_than=timedelta(0)) == 1
        with desk.sessions() as session:
            assert session.execute(select(RawMessage.state)).scalar_one() == "processed"
            assert session.execute(select(func.count(Ticket.id))).scalar_one() == 1
    finally:
        desk.engine.dispose()


def test_no_process_migrates_a_new_database(tmp_path: Path) -> None:
    config = write_desk(tmp_path / "desk", f"sqlite:///{tmp_path}/new.db")
    done = maildesk(config, "ingest", "--no-process", stdin=eml("gmail/01-original.eml"))
    assert done.returncode == 0, done.stderr


def test_no_process_exits_75_when_storage_is_down(tmp_path: Path) -> None:
    config = write_desk(tmp_path / "desk", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    down = maildesk(config, "ingest", "--no-process", stdin=eml("gmail/01-original.eml"))
    assert down.returncode == EX_TEMPFAIL, down.stderr
    assert b"try again later" in down.stderr
