"""`maildesk tickets merge|unmerge|split|move` on both engines: what moves, where later
mail lands, what reports count, and that no customer gets mail from a repair."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from maildesk.cli.main import main
from maildesk.pipeline.flow import accept
from maildesk.reports.queries import build_report, make_period
from maildesk.runtime.desk import Desk
from maildesk.store.db import transaction
from maildesk.store.models import Event, Message, Outbox, ThreadKey, Ticket
from maildesk.tickets import merge as merging
from maildesk.tickets import split as splitting
from maildesk.tickets.operations import find_ticket_by_ref
from maildesk.types import RawMail, Source, TicketStatus
from tests.conftest import MAIL_DIR, eml


def cli(desk: Desk, *argv: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), "tickets", *argv])
    return int(exit_.value.code)


def merge(desk: Desk, source: str, target: str) -> None:
    with transaction(desk.sessions) as session:
        merging.merge(session, find_ticket_by_ref(session, source),
                      find_ticket_by_ref(session, target), actor="admin", now=desk.clock())


def unmerge(desk: Desk, source: str) -> None:
    with transaction(desk.sessions) as session:
        merging.unmerge(session, find_ticket_by_ref(session, source), actor="admin",
                        now=desk.clock())


def deliver(desk: Desk, name: str) -> str:
    outcome = accept(desk, RawMail(eml(name), Source.PIPE)).outcome
    assert outcome is not None and outcome.ref
    return outcome.ref


def ticket(desk: Desk, ref: str) -> Ticket:
    with desk.sessions() as session:
        return session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()


def messages_of(desk: Desk, ref: str) -> list[str]:
    with desk.sessions() as session:
        return list(session.execute(
            select(Message.message_id).join(Ticket, Ticket.id == Message.ticket_id)
            .where(Ticket.ref == ref, Message.direction == "in")
            .order_by(Message.id)).scalars())


def customer_mail(desk: Desk) -> int:
    with desk.sessions() as session:
        return session.execute(select(func.count()).select_from(Outbox).where(
            Outbox.to_addr.in_(["maria@cliente.example", "pedro@cliente.example"]))).scalar_one()


def actions(desk: Desk, ref: str) -> list[str]:
    with desk.sessions() as session:
        return list(session.execute(select(Event.action).join(Ticket, Ticket.id == Event.ticket_id)
                                    .where(Ticket.ref == ref).order_by(Event.id)).scalars())


def two_tickets(desk: Desk) -> tuple[str, str]:
    return (deliver(desk, "agents/00-customer-invoice.eml"),
            deliver(desk, "repair/01-maria-refund-followup.eml"))


def test_merge_moves_everything_and_later_mail_follows(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = two_tickets(desk)
    before = customer_mail(desk)
    assert cli(desk, "merge", old, new, "--as", "ana@example.com") == 0
    assert "merged into" in capsys.readouterr().out
    source, target = ticket(desk, old), ticket(desk, new)
    assert source.status == TicketStatus.MERGED and source.merged_into_id == target.id
    assert messages_of(desk, old) == []
    assert "CAOrig-maria-0001@mail.cliente.example" in messages_of(desk, new)
    with desk.sessions() as session:
        keys = session.execute(select(ThreadKey.ticket_id).where(
            ThreadKey.key == "CAOrig-maria-0001@mail.cliente.example")).scalars().all()
    assert set(keys) == {target.id}
    assert "merged" in actions(desk, old) and "merged-in" in actions(desk, new)

    # `thread test` explains where a reply to the old ticket would go, writing nothing.
    assert customer_mail(desk) == before
    events = len(actions(desk, new))
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), "thread", "test", "--json",
              str(MAIL_DIR / "repair/04-maria-answers-old-thread.eml")])
    assert exit_.value.code == 0
    view = json.loads(capsys.readouterr().out)
    assert (view["decision"], view["ticket"], view["method"]) == ("join", new, "headers")
    assert view["steps"][0]["detail"].startswith("In-Reply-To <CAOrig-maria-0001@")
    assert len(actions(desk, new)) == events and len(messages_of(desk, new)) == 2
    # The reply itself lands in the target; no mail to customers from the merge.
    assert deliver(desk, "repair/04-maria-answers-old-thread.eml") == new

    # The target changed since: unmerge is refused, and says why.
    assert cli(desk, "unmerge", old) == 2
    assert ticket(desk, old).status == TicketStatus.MERGED


def test_unmerge_restores_while_nothing_happened(desk: Desk) -> None:
    old, new = two_tickets(desk)
    status = ticket(desk, old).status
    merge(desk, old, new)
    with pytest.raises(merging.RepairRefused, match="already merged"):
        merge(desk, old, new)
    with pytest.raises(merging.RepairRefused, match="is not merged"):
        unmerge(desk, new)  # the target is not the merged one
    unmerge(desk, old)
    assert ticket(desk, old).status == status and ticket(desk, old).merged_into_id is None
    assert messages_of(desk, old) == ["CAOrig-maria-0001@mail.cliente.example"]
    assert messages_of(desk, new) == ["CAOrig-maria-0002@mail.cliente.example"]
    assert deliver(desk, "repair/04-maria-answers-old-thread.eml") == old


def test_tag_of_merged_ticket_lands_in_target(desk: Desk) -> None:
    old, new = two_tickets(desk)
    merge(desk, old, new)
    tagged = (b"From: maria@cliente.example\r\nTo: support@acme.example\r\n"
              b"Subject: [" + old.encode() + b"] one more thing\r\n"
              b"Message-ID: <tagged-1@cliente.example>\r\n\r\nAttached the bank letter.\r\n")
    outcome = accept(desk, RawMail(tagged, Source.PIPE)).outcome
    assert outcome is not None and outcome.ref == new and outcome.kind == "threaded"


def test_reports_count_a_merged_ticket_once(desk: Desk) -> None:
    old, new = two_tickets(desk)
    now = desk.clock()
    period = make_period((now - timedelta(days=1)).date(), (now + timedelta(days=1)).date(), "UTC",
                         now)
    with desk.sessions() as session:
        assert build_report(session, period).volume.total == 2
    merge(desk, old, new)
    with desk.sessions() as session:
        assert build_report(session, period).volume.total == 1


def test_split_makes_a_ticket_of_its_author_and_runs_rules(desk: Desk) -> None:
    old = deliver(desk, "agents/00-customer-invoice.eml")
    assert deliver(desk, "repair/02-pedro-security-in-thread.eml") == old
    assert deliver(desk, "repair/03-pedro-more.eml") == old
    before = customer_mail(desk)
    assert cli(desk, "split", old, "<CAPedro-0001@mail.cliente.example>", "--following") == 0
    with desk.sessions() as session:
        new = session.execute(select(Ticket).where(Ticket.related_ticket_id.is_not(None))
                              ).scalar_one()
        customer = new.customer_id
        author = session.execute(select(Message.from_addr).where(
            Message.ticket_id == new.id)).scalars().all()
    assert messages_of(desk, new.ref) == ["CAPedro-0001@mail.cliente.example",
                                          "CAPedro-0002@mail.cliente.example"]
    assert messages_of(desk, old) == ["CAOrig-maria-0001@mail.cliente.example"]
    assert "pedro@cliente.example" in author and customer != ticket(desk, old).customer_id
    assert new.related_ticket_id == ticket(desk, old).id
    assert new.subject == "Invoice 2024-117 charged twice"
    # The rules ran on Pedro's mail as on new mail: an invoice subject goes to billing, l1.
    assert (new.queue, new.team, new.assignee) == ("billing", "l1", "ana@example.com")
    assert "rule" in actions(desk, new.ref) and new.response_due_at is not None
    assert customer_mail(desk) == before
    # Pedro's next reply threads to the new ticket.
    follow = (b"From: pedro@cliente.example\r\nTo: support@acme.example\r\n"
              b"Subject: Re: Invoice 2024-117 charged twice\r\n"
              b"In-Reply-To: <CAPedro-0002@mail.cliente.example>\r\n"
              b"Message-ID: <CAPedro-0003@mail.cliente.example>\r\n\r\nAny news?\r\n")
    assert accept(desk, RawMail(follow, Source.PIPE)).outcome.ref == new.ref


def test_split_refusals(desk: Desk) -> None:
    old = deliver(desk, "agents/00-customer-invoice.eml")
    with desk.sessions() as session:
        whole = find_ticket_by_ref(session, old)
        first = splitting.find_message(session, "<CAOrig-maria-0001@mail.cliente.example>")
        assert "nothing received would stay" in str(
            splitting.split_problem(session, whole, first, following=False))
        assert splitting.split_problem(session, whole, None, following=False)


def test_move_one_message(desk: Desk) -> None:
    old, new = two_tickets(desk)
    assert deliver(desk, "repair/02-pedro-security-in-thread.eml") == old
    assert cli(desk, "move", "CAPedro-0001@mail.cliente.example", new) == 0
    assert messages_of(desk, new)[-1] == "CAPedro-0001@mail.cliente.example"
    assert "CAPedro-0001@mail.cliente.example" not in messages_of(desk, old)
    assert "moved-out" in actions(desk, old) and "moved-in" in actions(desk, new)
    assert deliver(desk, "repair/03-pedro-more.eml") == new  # replies follow the message
    with desk.sessions() as session:
        moved = splitting.find_message(session, "CAPedro-0001@mail.cliente.example")
        assert "already on" in str(splitting.move_problem(session, moved,
                                                          find_ticket_by_ref(session, new)))
