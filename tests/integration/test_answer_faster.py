"""Answering faster, by mail over real SMTP and by CLI, on both engines: #macro, #time,
collisions held and released by #send (or #drop), `tickets time|search`, `macros`,
`check`, and time spent in the report."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy import select

from maildesk.agents import timelog
from maildesk.agents.tokens import agent_reply_address
from maildesk.cli.main import main
from maildesk.config.model import RelayConfig, load_config
from maildesk.outbox.send import flush_once
from maildesk.pipeline.flow import accept
from maildesk.reports import build_report, make_period, render_csv, render_html, render_text
from maildesk.runtime.desk import Desk
from maildesk.store.db import transaction
from maildesk.store.models import Event, Message, Outbox, Ticket, TimeEntry
from maildesk.tickets.search import Filters, search
from maildesk.tickets.views import ticket_detail
from maildesk.types import OutboxState, RawMail, Source, TicketStatus
from maildesk.web.app import status_view
from tests.conftest import eml, write_desk
from tests.integration.test_agents_roundtrip import FAST, received
from tests.integration.test_outbox_delivery import Recorder, Sink, free_port

MARIA = "maria@cliente.example"


def agent_mail(sender: str, to: str, parent: str, body: str, mid: str,
               quoted: str = "") -> bytes:
    """An agent's reply as their client sends it: threaded to `parent`, history quoted."""
    quote = "".join(f"> {line}\r\n" for line in quoted.splitlines())
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: Re: Invoice 2024-117 charged twice\r\n"
            f"In-Reply-To: {parent}\r\nReferences: {parent}\r\nMessage-ID: <{mid}>\r\n"
            "Date: Mon, 4 Mar 2024 10:05:00 +0100\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}\r\n\r\nOn Mon, 4 Mar 2024 at 09:12, Acme Support wrote:\r\n{quote}"
            ).encode()


def body(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())


class Desk2:
    """A desk, its relay sink, and the mail it delivered, grouped by recipient."""

    def __init__(self, desk: Desk, sink: Recorder, port: int) -> None:
        self.desk, self.sink, self.port = desk, sink, port

    def deliver(self, ahead: timedelta = timedelta(0)) -> dict[str, list[EmailMessage]]:
        self.sink.received.clear()
        flush_once(self.desk.sessions, RelayConfig(host="127.0.0.1", port=self.port, timeout=5),
                   datetime.now(UTC) + timedelta(seconds=5) + ahead, FAST)
        mail: dict[str, list[EmailMessage]] = {}
        for envelope in self.sink.received:
            for rcpt in envelope.rcpt_tos:
                mail.setdefault(rcpt, []).append(received(envelope))
        return mail

    def take(self, raw: bytes, to: str, desk: Desk | None = None) -> str:
        return accept(desk or self.desk, RawMail(raw, Source.SMTP, envelope_to=(to,))).outcome.kind

    def address(self, ref: str, agent: str) -> str:
        return agent_reply_address(self.desk.secret(), self.desk.config.desk.address, ref, agent)


@pytest.fixture
def relay(desk: Desk):  # noqa: ANN201
    port = free_port()
    with Sink(port, Recorder()) as sink:
        yield Desk2(desk, sink, port)


def opened(relay: Desk2) -> tuple[str, EmailMessage]:
    """The customer's mail, and the notification Ana got about it."""
    ref = accept(relay.desk, RawMail(eml("agents/00-customer-invoice.eml"), Source.SMTP,
                                     envelope_to=("support@acme.example",))).outcome.ref
    notices = relay.deliver()["ana@example.com"]
    assert len(notices) == 1
    return ref, notices[0]


def events(desk: Desk, ref: str, action: str) -> list[Event]:
    with desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        return list(session.execute(select(Event).where(Event.ticket_id == ticket.id,
                                                        Event.action == action)).scalars())


def both_answer(relay: Desk2) -> tuple[str, EmailMessage]:
    """Ana answers; Bruno, who had only seen the customer's mail, answers a minute later."""
    ref, notice = opened(relay)
    ana = relay.address(ref, "ana@example.com")
    assert relay.take(agent_mail("Ana García <ana@example.com>", ana, notice["Message-ID"],
                                 "Hi María, the duplicate charge is refunded.",
                                 "ana-1@mail.example", "invoice 2024-117 was charged twice"),
                      ana) == "agent-reply"
    bruno = relay.address(ref, "bruno@example.com")
    assert relay.take(agent_mail("Bruno Díaz <bruno@example.com>", bruno, notice["Message-ID"],
                                 "Hello María, we are looking into the double charge.",
                                 "bruno-1@mail.example", "invoice 2024-117 was charged twice"),
                      bruno) == "agent-reply"
    mail = relay.deliver()
    to_maria = mail[MARIA]
    assert len(to_maria) == 1 and "is refunded" in body(to_maria[0])  # Ana's only
    warning = [m for m in mail["bruno@example.com"] if "#enviar" in body(m)]  # Spanish
    assert len(warning) == 1
    text = body(warning[0])
    assert "the duplicate charge is refunded" in text and "looking into the double" in text
    return ref, warning[0]


def test_held_answer_released_by_send_reaches_the_customer_once(relay: Desk2) -> None:
    ref, warning = both_answer(relay)
    assert len(events(relay.desk, ref, "answer-held")) == 1
    assert [m["text"] for m in status_view(relay.desk, ref)["messages"]  # type: ignore[index]
            if "looking into" in m["text"]] == []  # not on the customer's status page
    to = warning["Reply-To"].addresses[0].addr_spec
    assert relay.take(agent_mail("Bruno Díaz <bruno@example.com>", to, warning["Message-ID"],
                                 "#send", "bruno-2@mail.example", body(warning)), to) \
        == "agent-reply"
    mail = relay.deliver()
    to_maria = mail[MARIA]
    assert len(to_maria) == 1 and "looking into the double charge" in body(to_maria[0])
    assert str(to_maria[0]["From"]).startswith("Bruno Díaz")
    assert "enviada al cliente" in body(mail["bruno@example.com"][0])  # Bruno writes Spanish
    assert MARIA not in relay.deliver()  # once, not again
    assert len(events(relay.desk, ref, "answer-released")) == 1
    assert any("looking into" in m["text"]
               for m in status_view(relay.desk, ref)["messages"])  # type: ignore[index]
    # Released, it is a public answer that later answers are compared with.
    assert [e.actor for e in events(relay.desk, ref, "public-answer")] == [
        "ana@example.com", "bruno@example.com"]


def test_held_answer_dropped_is_never_sent(relay: Desk2) -> None:
    ref, warning = both_answer(relay)
    to = warning["Reply-To"].addresses[0].addr_spec
    assert relay.take(agent_mail("Bruno Díaz <bruno@example.com>", to, warning["Message-ID"],
                                 "#descartar", "bruno-2@mail.example"), to) == "agent-reply"
    assert MARIA not in relay.deliver()
    with relay.desk.sessions() as session:
        states = sorted(session.execute(select(Outbox.state).where(Outbox.kind == "update"))
                        .scalars())
    assert states == [OutboxState.DROPPED, OutboxState.SENT]
    # Nothing is held any more: a second #send is refused, and nothing changes.
    assert relay.take(agent_mail("Bruno Díaz <bruno@example.com>", to, warning["Message-ID"],
                                 "#enviar", "bruno-3@mail.example"), to) \
        == "agent-command-error"
    assert "ninguna respuesta retenida" in body(relay.deliver()["bruno@example.com"][0])


def test_an_answer_written_after_seeing_the_other_is_sent(relay: Desk2) -> None:
    ref, notice = opened(relay)
    ana = relay.address(ref, "ana@example.com")
    relay.take(agent_mail("Ana García <ana@example.com>", ana, notice["Message-ID"],
                          "Refunded.", "ana-1@mail.example"), ana)
    sent = relay.deliver()[MARIA][0]
    bruno = relay.address(ref, "bruno@example.com")
    # Bruno was copied on Ana's answer and replies to it: he has seen it.
    assert relay.take(agent_mail("Bruno Díaz <bruno@example.com>", bruno, sent["Message-ID"],
                                 "And the fee is waived too.", "bruno-1@mail.example"),
                      bruno) == "agent-reply"
    assert len(relay.deliver()[MARIA]) == 1
    # Carla, blind, but after the window: sent too.
    later = replace(relay.desk, clock=lambda: relay.desk.clock() + timedelta(minutes=11))
    carla = relay.address(ref, "carla@example.com")
    relay.take(agent_mail("Carla Romero <carla@example.com>", carla, notice["Message-ID"],
                          "Sorry for the trouble.", "carla-1@mail.example"), carla, later)
    assert len(relay.deliver(timedelta(minutes=12))[MARIA]) == 1
    assert events(relay.desk, ref, "answer-held") == []


def test_macro_and_time_by_mail(relay: Desk2) -> None:
    ref, notice = opened(relay)
    ana = relay.address(ref, "ana@example.com")
    # A misspelt macro rejects the whole mail: no time logged, nothing to the customer.
    assert relay.take(agent_mail("Ana García <ana@example.com>", ana, notice["Message-ID"],
                                 "#time 10m\n\nHello,\n#macro refnud\nBye",
                                 "ana-0@mail.example"), ana) == "agent-command-error"
    mail = relay.deliver()
    assert MARIA not in mail
    assert "no hay ninguna plantilla 'refnud'" in body(mail["ana@example.com"][0])

    text = "#macro refund\n#time 1h15m\n\nP.S. The credit note is attached."
    assert relay.take(agent_mail("Ana García <ana@example.com>", ana, notice["Message-ID"],
                                 text, "ana-1@mail.example"), ana) == "agent-reply"
    mail = relay.deliver()
    answer = body(mail[MARIA][0])
    assert "Hello María Pérez," in answer and "refunded the duplicate charge" in answer
    assert f"reference {ref}" in answer and "Ana García" in answer
    assert answer.index("refunded") < answer.index("P.S. The credit note")
    assert "#macro" not in answer and "#time" not in answer
    confirm = body(mail["ana@example.com"][0])  # Ana reads Spanish
    assert "plantilla usada: refund" in confirm and "tiempo registrado: 1h 15m" in confirm
    with relay.desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        assert ticket.status == TicketStatus.PENDING
        assert {"billing", "refund"} <= set(ticket.tags)
        entries = session.execute(select(TimeEntry)).scalars().all()
        assert [(e.agent, e.minutes, e.source) for e in entries] == [
            ("ana@example.com", 75, "mail")]
    assert events(relay.desk, ref, "macro")[0].detail == {"names": ["refund"]}


# -- CLI -------------------------------------------------------------------------------------

def cli(desk: Desk, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), *argv])
    out, err = capsys.readouterr()
    return int(exit_.value.code), out, err


def customer_mail(number: int, subject: str, text: str, sender: str = MARIA) -> bytes:
    return (f"From: {sender}\r\nTo: support@acme.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <search-{number}@cliente.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{text}\r\n").encode()


def test_time_search_and_report_by_cli(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    refs = [accept(desk, RawMail(customer_mail(i, subject, text, sender), Source.PIPE)).outcome.ref
            for i, (subject, text, sender) in enumerate([
                ("La impresora no imprime", "Sale el error E-13 en la impresión.", MARIA),
                ("Factura duplicada", "Nos habéis cobrado dos facturas.", "luis@otro.example"),
                ("Printers offline", "Both printers on floor 2 are offline.", MARIA)])]
    code, out, _ = cli(desk, capsys, "tickets", "time", refs[0], "30m", "--as", "Ana García")
    assert code == 0 and "30m" in out
    code, _, err = cli(desk, capsys, "tickets", "time", refs[0], "ayer", "--as", "Ana García")
    assert code == 2 and "not a duration" in err
    with transaction(desk.sessions) as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == refs[1])).scalar_one()
        for minutes in (75, 45):
            timelog.record(session, ticket, "bruno@example.com", minutes, desk.clock(), "mail")
    assert len(events(desk, refs[0], "time")) == 1
    with desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == refs[1])).scalar_one()
        assert ticket_detail(session, ticket)["time_spent_minutes"] == 120  # tickets show

    with transaction(desk.sessions) as session:  # a pasted log of 2 MB still stores
        ticket = session.execute(select(Ticket).where(Ticket.ref == refs[2])).scalar_one()
        dump = " ".join(hashlib.md5(str(i).encode()).hexdigest() for i in range(60000))
        session.add(Message(ticket_id=ticket.id, direction="in", kind="customer",
                            subject="log", text="zanahoria " + dump, created_at=desk.clock()))

    def found(query: str, **filters: object) -> list[str]:
        with desk.sessions() as session:
            return [hit.ref for hit in search(session, query, Filters(**filters))]  # type: ignore[arg-type]

    assert found("impresion") == [refs[0]]  # accents folded
    assert found("FACTURAS") == [refs[1]]  # case, and a Spanish plural
    assert found("printer") == [refs[2]]  # English stem: printers
    assert found("impresora error") == [refs[0]]  # every word must match
    assert found("impresora fútbol") == []
    assert found("zanahoria") == [refs[2]]
    assert found("printers", customer="luis@otro.example") == []
    assert found("factura", customer="luis") == [refs[1]]
    assert found("factura", statuses=("closed",)) == []
    code, out, _ = cli(desk, capsys, "tickets", "search", "impresión", "--status", "new",
                       "--status", "open", "--customer", MARIA, "--json")
    assert code == 0 and [hit["ref"] for hit in json.loads(out)] == [refs[0]]
    assert "E-13" in json.loads(out)[0]["excerpt"]

    code, out, _ = cli(desk, capsys, "report", "--format", "json")
    spent = json.loads(out)["time_spent"]
    assert spent["total_minutes"] == 150 and spent["entries"] == 3
    assert {c["key"]: (c["minutes"], c["entries"]) for c in spent["by_agent"]} == {
        "bruno@example.com": (120, 2), "ana@example.com": (30, 1)}
    assert sum(c["minutes"] for c in spent["by_queue"]) == 150
    assert sum(c["minutes"] for c in spent["by_type"]) == 150
    with desk.sessions() as session:
        report = build_report(session, make_period(date.today() - timedelta(days=1),
                                                   date.today() + timedelta(days=1),
                                                   "Europe/Madrid", desk.clock()))
    assert "Time spent: 2h 30m in 3 entries" in render_text(report)
    assert "Time spent: 2h 30m" in render_html(report)
    assert "time_spent,minutes_by_agent,bruno@example.com,120" in render_csv(report)


def test_macros_cli_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No database involved: one engine is enough."""
    config = load_config(write_desk(tmp_path / "desk", f"sqlite:///{tmp_path}/desk.db"))
    desk = cast(Desk, SimpleNamespace(config=config))
    code, out, _ = cli(desk, capsys, "macros", "list")
    assert code == 0 and "refund" in out and "more-details" in out and "en, es" in out
    code, out, _ = cli(desk, capsys, "macros", "show", "refund", "--lang", "es")
    assert code == 0 and "#status pending" in out and "Hemos devuelto" in out
    folder = Path(desk.config.templates_dir) / "en" / "macros"
    (folder / "broken.txt.j2").write_text(
        "---\nstatus: asleep\ncolour: red\n---\nHi {{ customer_nam }}\n", encoding="utf-8")
    code, _, err = cli(desk, capsys, "check")
    path = folder / "broken.txt.j2"
    assert code == 1
    assert f"{path}:2: broken: status: asleep: unknown state" in err
    assert f"{path}:3: broken: colour: unknown key" in err
    assert f"{path}:5: broken: cannot render: 'customer_nam' is undefined" in err
