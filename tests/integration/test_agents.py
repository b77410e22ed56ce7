"""Agents working by mail: answers, notes, commands, forged mail, tickets on behalf.

Every test builds its ticket by ingesting a customer's mail, then fills the ticket's
signed reply address into an agent's reply from tests/mail/agents/ before ingesting it.
Runs on SQLite and PostgreSQL (the `desk` fixture).
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from maildesk.agents.tokens import agent_intake_address, agent_reply_address
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.models import Article, Contact, Event, Message, Outbox, Ticket
from maildesk.types import RawMail, Source, TicketStatus
from tests.conftest import eml

ANA = "ana@example.com"


@dataclass(frozen=True)
class Opened:
    ref: str
    notify_id: str  # the notification's Message-ID, which the agent's client answers
    reply_to: str  # the notification's signed Reply-To


def ingest(desk: Desk, data: bytes, to: tuple[str, ...] = ()):  # noqa: ANN201
    return accept(desk, RawMail(data, Source.PIPE, envelope_to=to))


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def open_ticket(desk: Desk) -> Opened:
    """María's invoice mail: the rules give it to team l1, whose only member is Ana."""
    outcome = ingest(desk, eml("agents/00-customer-invoice.eml")).outcome
    assert outcome.kind == "new-ticket"
    with desk.sessions() as session:
        row = session.execute(select(Outbox).where(Outbox.kind == "notify_agent",
                                                   Outbox.to_addr == ANA)).scalar_one()
        notice = parsed(row.data)
    return Opened(outcome.ref, notice["Message-ID"].strip("<>"),
                  notice["Reply-To"].addresses[0].addr_spec)


def agent_mail(name: str, opened: Opened, token_address: str | None = None,
               **extra: str) -> bytes:
    text = eml(f"agents/{name}").decode("latin-1")
    values = {"TOKEN_ADDRESS": token_address or opened.reply_to, "REF": opened.ref,
              "NOTIFY_ID": opened.notify_id, **extra}
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.encode("latin-1")


def intake(desk: Desk, agent: str = ANA) -> tuple[str]:
    """The agent's signed address for mail on a customer's behalf, as an envelope recipient."""
    return (agent_intake_address(desk.secret(), "support@acme.example", agent),)


def to_customer(desk: Desk) -> list[EmailMessage]:
    with desk.sessions() as session:
        rows = session.execute(select(Outbox).where(Outbox.to_addr == "maria@cliente.example")
                               .order_by(Outbox.id)).scalars().all()
        return [parsed(r.data) for r in rows]


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content()


def ticket(desk: Desk, ref: str) -> Ticket:
    with desk.sessions() as session:
        return session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()


def events(desk: Desk, ref: str) -> list[Event]:
    with desk.sessions() as session:
        t = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        return list(session.execute(select(Event).where(Event.ticket_id == t.id)
                                    .order_by(Event.id)).scalars())


def to_agent(desk: Desk, kind: str) -> list[EmailMessage]:
    with desk.sessions() as session:
        rows = session.execute(select(Outbox).where(Outbox.kind == kind)).scalars().all()
        return [parsed(r.data) for r in rows]


REPLIES = {
    "01-outlook-reply.eml": "we have refunded the duplicate charge",
    "02-gmail-reply.eml": "the duplicate charge is refunded",
    "03-apple-mail-reply.eml": "we’ve refunded the duplicate charge",
    "04-thunderbird-reply.eml": "the duplicate charge is refunded",
    "05-gmail-es-reply.eml": "ya hemos devuelto el cargo duplicado",
    "07-iphone-reply.eml": "Refund done, you'll see it in 3 days.",
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_agent_reply_from_each_client_reaches_the_customer(desk: Desk, name: str) -> None:
    opened = open_ticket(desk)
    outcome = ingest(desk, agent_mail(name, opened)).outcome
    assert (outcome.kind, outcome.ref) == ("agent-reply", opened.ref)
    update = to_customer(desk)[-1]
    text = body(update)
    assert REPLIES[name] in text
    for quoted in ("wrote:", "escribió", "New ticket", "Nuevo ticket", "From:", "Sent from",
                   "> ", "-- \n"):
        assert quoted not in text, quoted
    assert update["X-Maildesk-Kind"] == "update"
    assert str(update["From"]) == "Ana García — Acme Support <support@acme.example>"
    assert update["In-Reply-To"] == "<CAOrig-maria-0001@mail.cliente.example>"
    assert f"[{opened.ref}]" in update["Subject"]
    saved = ticket(desk, opened.ref)
    assert saved.status == TicketStatus.OPEN and saved.first_response_at is not None
    with desk.sessions() as session:
        stored = session.execute(select(Message).where(Message.ticket_id == saved.id,
                                                       Message.direction == "in",
                                                       Message.kind == "agent")).scalar_one()
        assert stored.agent == ANA and stored.internal and REPLIES[name] in stored.text
    assert to_agent(desk, "confirm") == []  # no commands, nothing to confirm


def test_outlook_es_pending_and_mensaje_original(desk: Desk) -> None:
    opened = open_ticket(desk)
    assert ingest(desk, agent_mail("06-outlook-es-pending.eml", opened)).outcome.kind \
        == "agent-reply"
    update = to_customer(desk)[-1]
    text = body(update)
    assert "¿nos confirma los últimos 4 dígitos" in text
    assert "#pendiente" not in text and "Mensaje original" not in text
    assert "waiting for your answer" in text  # the update says the ball is in their court
    assert ticket(desk, opened.ref).status == TicketStatus.PENDING
    confirm = to_agent(desk, "confirm")
    assert len(confirm) == 1 and "estado: pendiente" in body(confirm[0])  # Ana reads Spanish
    assert confirm[0]["To"].addresses[0].addr_spec == ANA


def test_after_reply_pending_is_configurable(tmp_path, db_url: str) -> None:  # noqa: ANN001
    from maildesk.config.model import load_config
    from maildesk.runtime.desk import open_desk
    from tests.conftest import write_desk

    config = load_config(write_desk(tmp_path / "d", db_url, '[agents]\nafter_reply = "pending"\n'))
    desk = open_desk(config)
    try:
        opened = open_ticket(desk)
        ingest(desk, agent_mail("02-gmail-reply.eml", opened))
        assert ticket(desk, opened.ref).status == TicketStatus.PENDING
    finally:
        desk.close()


def test_close_from_iphone_sends_answer_then_closure(desk: Desk) -> None:
    opened = open_ticket(desk)
    ingest(desk, agent_mail("08-iphone-es-close.eml", opened))
    kinds = [m["X-Maildesk-Kind"] for m in to_customer(desk)]
    assert kinds[-2:] == ["update", "closure"]
    answer = body(to_customer(desk)[-2])
    assert "Devolución hecha." in answer and "#cerrar" not in answer
    assert "Enviado desde" not in answer
    saved = ticket(desk, opened.ref)
    assert saved.status == TicketStatus.CLOSED and saved.closed_at is not None


def test_every_other_command_is_applied_and_confirmed(desk: Desk) -> None:
    opened = open_ticket(desk)
    assert ingest(desk, agent_mail("09-gmail-commands.eml", opened)).outcome.kind \
        == "agent-reply"
    saved = ticket(desk, opened.ref)
    assert (saved.priority, saved.type, saved.assignee) == ("P1", "incident",
                                                            "bruno@example.com")
    assert {"refund", "duplicate"} <= set(saved.tags)
    text = body(to_customer(desk)[-1])
    assert "a colleague from billing takes over" in text and "#" not in text
    confirm = body(to_agent(desk, "confirm")[0])
    for line in ("prioridad: P1", "tipo: incidencia", "etiqueta: refund", "etiqueta: duplicate",
                 "asignada a: Bruno Díaz", "respuesta en cola para el cliente"):
        assert line in confirm
    assert any(e.action == "priority" and e.actor == ANA for e in events(desk, opened.ref))


def test_escalate_reopen_resolve_and_team(desk: Desk) -> None:
    opened = open_ticket(desk)
    commands = "#escalate\n#assign team:l1\n"  # hand over to l1, then escalate from there
    ingest(desk, agent_mail("02-gmail-reply.eml", opened).replace(
        b"Hi Mar=C3=ADa,", commands.encode() + b"\nHi Mar=C3=ADa,"))
    saved = ticket(desk, opened.ref)
    assert saved.team == "l2" and saved.escalation_level == 1
    close = agent_mail("16-authres-dkim.eml", opened, AUTHSERV="x").replace(
        b"To: Acme Support <support@acme.example>", f"To: <{opened.reply_to}>".encode())
    ingest(desk, close)
    assert ticket(desk, opened.ref).status == TicketStatus.RESOLVED
    reopen = agent_mail("10-note.eml", opened).replace(b"#note", b"#reabrir\n#nota")
    ingest(desk, reopen)
    assert ticket(desk, opened.ref).status == TicketStatus.OPEN


def test_note_never_reaches_the_customer(desk: Desk) -> None:
    opened = open_ticket(desk)
    before = len(to_customer(desk))
    assert ingest(desk, agent_mail("10-note.eml", opened)).outcome.kind == "agent-note"
    ingest(desk, agent_mail("02-gmail-reply.eml", opened))  # a later public answer
    ingest(desk, agent_mail("08-iphone-es-close.eml", opened))  # and the closure
    sent = to_customer(desk)
    assert len(sent) > before
    with desk.sessions() as session:
        rows = [o.data for o in session.execute(select(Outbox).where(
            Outbox.to_addr == "maria@cliente.example")).scalars()]
        note = session.execute(select(Message).where(Message.kind == "note")).scalar_one()
    assert note.internal and note.agent == ANA and "SECRET-NOTE" in note.text
    for data in rows:
        assert b"SECRET-NOTE" not in data and b"CFO" not in data
    assert all("SECRET-NOTE" not in body(m) for m in sent)


def test_invalid_command_applies_nothing(desk: Desk) -> None:
    opened = open_ticket(desk)
    before = len(to_customer(desk))
    outcome = ingest(desk, agent_mail("11-bad-command.eml", opened)).outcome
    assert outcome.kind == "agent-command-error"
    assert len(to_customer(desk)) == before
    saved = ticket(desk, opened.ref)
    assert saved.status == TicketStatus.NEW and saved.first_response_at is None
    error = to_agent(desk, "command_error")
    assert len(error) == 1 and "comando desconocido: #frobnicate now" in body(error[0])
    assert error[0]["To"].addresses[0].addr_spec == ANA
    with desk.sessions() as session:
        rows = [o.data for o in session.execute(select(Outbox)).scalars()]
    assert all(b"BAD-COMMAND-TEXT" not in d for d in rows
               if b"maria@cliente.example" in d.split(b"\r\n\r\n")[0])


@pytest.mark.parametrize("forgery", ["no-token", "wrong-token", "other-ticket"])
def test_forged_agent_mail_is_flagged_and_not_acted_on(desk: Desk, forgery: str) -> None:
    opened = open_ticket(desk)
    other = ingest(desk, eml("gmail/01-original.eml")).outcome.ref
    secret = desk.secret()
    address = {
        "no-token": "support@acme.example",
        "wrong-token": f"support+{opened.ref}.aaaaaaaaaaaaaaaaaaaa@acme.example",
        "other-ticket": agent_reply_address(secret, "support@acme.example", other, ANA)
        .replace(other, opened.ref),
    }[forgery]
    before = (len(to_customer(desk)), len(to_agent(desk, "notify_agent")))
    outcome = ingest(desk, agent_mail("08-iphone-es-close.eml", opened, address)).outcome
    assert (outcome.kind, outcome.ref) == ("flagged", opened.ref)
    saved = ticket(desk, opened.ref)
    assert saved.status == TicketStatus.NEW and saved.first_response_at is None
    assert (len(to_customer(desk)), len(to_agent(desk, "notify_agent"))) == before
    assert to_agent(desk, "confirm") == [] and to_agent(desk, "command_error") == []
    with desk.sessions() as session:
        flagged = session.execute(select(Message).where(Message.flagged.is_(True))).scalar_one()
    assert flagged.kind == "customer" and ANA in (flagged.flag_reason or "")


def test_token_of_another_agent_does_not_verify(desk: Desk) -> None:
    opened = open_ticket(desk)
    mallory = agent_reply_address(desk.secret(), "support@acme.example", opened.ref,
                                  "bruno@example.com")
    assert ingest(desk, agent_mail("02-gmail-reply.eml", opened, mallory)).outcome.kind \
        == "flagged"


def test_customer_hash_lines_are_plain_text(desk: Desk) -> None:
    opened = open_ticket(desk)
    outcome = ingest(desk, agent_mail("15-customer-hash-close.eml", opened)).outcome
    assert outcome.kind == "threaded"
    saved = ticket(desk, opened.ref)
    assert saved.status != TicketStatus.CLOSED and saved.assignee == ANA
    with desk.sessions() as session:
        message = session.execute(select(Message).where(
            Message.message_id == "CAOrig-maria-0015@mail.cliente.example")).scalar_one()
    assert message.text.startswith("#close") and not message.flagged


@pytest.mark.parametrize("trusted", [True, False])
def test_authentication_results(tmp_path, db_url: str, trusted: bool) -> None:  # noqa: ANN001
    from maildesk.config.model import load_config
    from maildesk.runtime.desk import open_desk
    from tests.conftest import write_desk

    extra = ('[agents]\ntrust_authentication_results = true\n'
             'trusted_authserv_ids = ["mx.acme.example"]\n')
    desk = open_desk(load_config(write_desk(tmp_path / "d", db_url, extra)))
    try:
        opened = open_ticket(desk)
        mail = agent_mail("16-authres-dkim.eml", opened,
                          AUTHSERV="mx.acme.example" if trusted else "mx.evil.example")
        outcome = ingest(desk, mail).outcome
        assert outcome.kind == ("agent-reply" if trusted else "flagged")
        status = ticket(desk, opened.ref).status
        assert status == (TicketStatus.RESOLVED if trusted else TicketStatus.NEW)
    finally:
        desk.close()


def test_authentication_results_ignored_unless_configured(desk: Desk) -> None:
    opened = open_ticket(desk)
    mail = agent_mail("16-authres-dkim.eml", opened, AUTHSERV="mx.acme.example")
    assert ingest(desk, mail).outcome.kind == "flagged"


def test_kb_marks_the_answer_as_solution(desk: Desk) -> None:
    opened = open_ticket(desk)
    mail = agent_mail("02-gmail-reply.eml", opened).replace(b"Hi Mar=C3=ADa,",
                                                            b"#kb\n#resolver\n\nHi Mar=C3=ADa,")
    assert ingest(desk, mail).outcome.kind == "agent-reply"
    with desk.sessions() as session:
        article = session.execute(select(Article)).scalar_one()
    assert "refunded" in article.solution and article.state == "draft"
    assert ticket(desk, opened.ref).status == TicketStatus.RESOLVED


def test_forward_inline_opens_ticket_for_original_sender(desk: Desk) -> None:
    outcome = ingest(desk, eml("agents/12-forward-inline-gmail.eml"), intake(desk)).outcome
    assert outcome.kind == "new-ticket"
    with desk.sessions() as session:
        t = session.execute(select(Ticket).where(Ticket.ref == outcome.ref)).scalar_one()
        customer = session.get(Contact, t.customer_id)
        messages = session.execute(select(Message).where(Message.ticket_id == t.id,
                                                         Message.direction == "in")
                                   .order_by(Message.id)).scalars().all()
        acks = session.execute(select(Outbox).where(Outbox.kind.like("ack%"))).scalars().all()
    assert customer.email == "r.ortega@cliente.example" and t.subject == "Broken delivery"
    assert messages[0].kind == "customer" and "parcel arrived damaged" in messages[0].text
    assert messages[1].kind == "note" and "Customer called me" in messages[1].text
    assert acks and acks[0].to_addr == "r.ortega@cliente.example"
    assert any(e.action == "opened-on-behalf" and e.actor == ANA and "opened by agent" in e.reason
               for e in events(desk, outcome.ref))


def test_forward_attached_opens_ticket_for_original_sender(desk: Desk) -> None:
    outcome = ingest(desk, eml("agents/13-forward-attached-es.eml"),
                     intake(desk, "bruno@example.com")).outcome
    assert outcome.kind == "new-ticket"
    saved = ticket(desk, outcome.ref)
    with desk.sessions() as session:
        assert session.get(Contact, saved.customer_id).email == "anabelen.soto@tienda.example"
    assert saved.subject == "Consulta sobre la garantía"
    assert any(e.actor == "bruno@example.com" and e.action == "opened-on-behalf"
               for e in events(desk, outcome.ref))


def test_cc_desk_opens_ticket_with_agent_first_response(desk: Desk) -> None:
    outcome = ingest(desk, eml("agents/14-cc-desk.eml"), intake(desk)).outcome
    assert outcome.kind == "new-ticket"
    saved = ticket(desk, outcome.ref)
    assert saved.assignee == ANA and saved.first_response_at is not None
    assert saved.status == TicketStatus.OPEN
    with desk.sessions() as session:
        assert session.get(Contact, saved.customer_id).email == "luis.romero@cliente.example"
        message = session.execute(select(Message).where(Message.ticket_id == saved.id)
                                  ).scalar_one()
        sent = session.execute(select(Outbox)).scalars().all()
    assert message.kind == "agent" and message.agent == ANA and not message.internal
    assert sent == []  # the customer already has the agent's mail
    assert any(e.action == "opened-on-behalf" and "opened by agent" in e.reason
               for e in events(desk, outcome.ref))


def test_unverified_agent_mail_without_ticket_is_flagged(desk: Desk) -> None:
    mail = eml("agents/14-cc-desk.eml").replace(
        b"To: Luis Romero <luis.romero@cliente.example>\nCc: Acme Support <support@acme.example>",
        b"To: Acme Support <support@acme.example>")
    outcome = ingest(desk, mail).outcome
    assert outcome.kind == "flagged"
    with desk.sessions() as session:
        assert session.execute(select(Outbox)).scalars().all() == []


def test_show_displays_flag(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    from maildesk.cli.tickets import print_human
    from maildesk.tickets.views import ticket_detail

    opened = open_ticket(desk)
    ingest(desk, agent_mail("02-gmail-reply.eml", opened, "support@acme.example"))
    with desk.sessions() as session:
        t = session.execute(select(Ticket).where(Ticket.ref == opened.ref)).scalar_one()
        print_human(ticket_detail(session, t))
    assert "[FLAGGED: from an agent's address without the signed reply address" \
        in capsys.readouterr().out


def test_agent_out_of_office_is_ignored(desk: Desk) -> None:
    opened = open_ticket(desk)
    before = len(to_customer(desk))
    auto = agent_mail("08-iphone-es-close.eml", opened).replace(
        b"X-Mailer:", b"Auto-Submitted: auto-replied\nX-Mailer:")
    assert ingest(desk, auto).outcome.kind == "ignored"
    assert len(to_customer(desk)) == before
    assert ticket(desk, opened.ref).status == TicketStatus.NEW


def trusting_desk(tmp_path, db_url: str, extra: str = "") -> Desk:  # noqa: ANN001
    from maildesk.config.model import load_config
    from maildesk.runtime.desk import open_desk
    from tests.conftest import write_desk

    settings = ('[agents]\ntrust_authentication_results = true\n'
                'trusted_authserv_ids = ["mx.acme.example"]\n')
    return open_desk(load_config(write_desk(tmp_path / "d", db_url, settings + extra)))


def test_quoted_pass_inside_a_failure_reason_is_no_proof(tmp_path, db_url: str) -> None:  # noqa: ANN001
    desk = trusting_desk(tmp_path, db_url)
    try:
        opened = open_ticket(desk)
        forged = ('mx.acme.example; dkim=fail reason="x; dkim=pass header.d=example.com" '
                  'header.d=evil.example')
        mail = agent_mail("16-authres-dkim.eml", opened, AUTHSERV="x").replace(
            b"Authentication-Results: x;", b"X-Old: x;", 1)
        mail = f"Authentication-Results: {forged}\n".encode() + mail
        assert ingest(desk, mail).outcome.kind == "flagged"
        assert ticket(desk, opened.ref).status == TicketStatus.NEW
    finally:
        desk.close()
