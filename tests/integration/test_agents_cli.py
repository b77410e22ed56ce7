"""`maildesk tickets reply|note|close|assign`: the same code path as agents' mail."""

from __future__ import annotations

import io
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from maildesk.cli.main import main
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.models import Event, Message, Outbox, Ticket
from maildesk.types import RawMail, Source, TicketStatus
from tests.conftest import eml


def cli(desk: Desk, *argv: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), "tickets", *argv])
    return int(exit_.value.code)


def opened(desk: Desk) -> str:
    return accept(desk, RawMail(eml("agents/00-customer-invoice.eml"), Source.PIPE)).outcome.ref


def state(desk: Desk, ref: str) -> Ticket:
    with desk.sessions() as session:
        return session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()


def to_maria(desk: Desk) -> list[tuple[str, str]]:
    with desk.sessions() as session:
        rows = session.execute(select(Outbox).where(Outbox.to_addr == "maria@cliente.example")
                               .order_by(Outbox.id)).scalars().all()
    return [(r.kind, message_from_bytes(r.data, policy=policy.default)
             .get_body(("plain",)).get_content()) for r in rows]


def test_reply_from_file_with_commands(desk: Desk, tmp_path) -> None:  # noqa: ANN001
    ref = opened(desk)
    answer = tmp_path / "answer.txt"
    answer.write_text("#pending\n\nCould you send the second charge's date?\n")
    assert cli(desk, "reply", ref, "--as", "Ana García", "--file", str(answer)) == 0
    kind, text = to_maria(desk)[-1]
    assert kind == "update" and "second charge's date" in text and "#pending" not in text
    saved = state(desk, ref)
    assert saved.status == TicketStatus.PENDING and saved.first_response_at is not None


def test_reply_from_stdin(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = opened(desk)
    monkeypatch.setattr("sys.stdin", io.StringIO("Refunded.\n"))
    assert cli(desk, "reply", ref, "--as", "ana@example.com", "--file", "-") == 0
    assert "Refunded." in to_maria(desk)[-1][1]


def test_note_is_internal(desk: Desk, tmp_path) -> None:  # noqa: ANN001
    ref = opened(desk)
    note = tmp_path / "note.txt"
    note.write_text("CLI-SECRET: call the bank first")
    before = len(to_maria(desk))
    assert cli(desk, "note", ref, "--as", "ana@example.com", "--file", str(note)) == 0
    assert len(to_maria(desk)) == before
    with desk.sessions() as session:
        message = session.execute(select(Message).where(Message.kind == "note")).scalar_one()
    assert message.internal and message.text == "CLI-SECRET: call the bank first"


def test_close_sends_closure(desk: Desk) -> None:
    ref = opened(desk)
    assert cli(desk, "close", ref) == 0
    assert to_maria(desk)[-1][0] == "closure"
    assert state(desk, ref).status == TicketStatus.CLOSED


def test_assign_agent_and_team(desk: Desk) -> None:
    ref = opened(desk)
    assert cli(desk, "assign", ref, "bruno@example.com", "--as", "ana") == 0
    assert state(desk, ref).assignee == "bruno@example.com"
    assert cli(desk, "assign", ref, "team:l2") == 0
    saved = state(desk, ref)
    assert (saved.team, saved.assignee) == ("l2", None)
    with desk.sessions() as session:
        actors = session.execute(select(Event.actor).where(Event.action == "assigned")
                                 ).scalars().all()
    assert "ana@example.com" in actors and "admin" in actors


def test_errors_apply_nothing(desk: Desk, tmp_path) -> None:  # noqa: ANN001
    ref = opened(desk)
    answer = tmp_path / "answer.txt"
    answer.write_text("#frob\n\nHello")
    before = len(to_maria(desk))
    assert cli(desk, "reply", ref, "--as", "ana", "--file", str(answer)) == 2
    assert cli(desk, "assign", ref, "nobody") == 2
    assert cli(desk, "close", ref, "--as", "nobody") == 2
    assert len(to_maria(desk)) == before and state(desk, ref).status == TicketStatus.NEW
