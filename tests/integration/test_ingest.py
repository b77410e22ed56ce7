"""The whole pipeline on real mail from tests/mail, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, select

from maildesk.pipeline.flow import accept, retry_quarantined
from maildesk.runtime.desk import Desk
from maildesk.store.models import Event, Message, Outbox, RawMessage, Suppression, Ticket
from maildesk.store.queries import add_thread_keys
from maildesk.types import OutboxState, RawMail, Source, ThreadMethod, TicketStatus
from tests.conftest import eml


def ingest(desk: Desk, name_or_bytes: str | bytes, to: tuple[str, ...] = ()):  # noqa: ANN201
    data = eml(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
    return accept(desk, RawMail(data, Source.PIPE, envelope_to=to))


def desk_sent(desk: Desk, ref: str, message_id: str) -> None:
    """Pretend the desk sent `message_id` on ticket `ref` (the corpus answers such mail)."""
    with desk.sessions.begin() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        add_thread_keys(session, ticket.id, [message_id], "sent")


def method_of(desk: Desk, message_id: str) -> tuple[str, str]:
    with desk.sessions() as session:
        row = session.execute(select(Ticket.ref, Message.thread_method).join(
            Ticket, Ticket.id == Message.ticket_id).where(Message.message_id == message_id)).one()
    return row[0], row[1]


def test_outlook_conversation_threads_every_way(desk: Desk) -> None:
    assert ingest(desk, "outlook/01-original.eml").outcome.ref == "MD-1"
    desk_sent(desk, "MD-1", "MD-1.20240304091502.a1b2c3d4@acme.example")
    for name in ("outlook/02-reply-in-reply-to.eml", "outlook/03-reply-thread-index-only.eml",
                 "outlook/04-aw-german-colleague.eml", "mobile/03-outlook-android-lost-headers.eml",
                 "autoreply/01-outlook-automatic-reply.eml"):
        result = ingest(desk, name)
        assert (result.outcome.kind, result.outcome.ref) == ("threaded", "MD-1"), name
    with desk.sessions() as session:
        methods = session.execute(select(Message.thread_method).where(
            Message.direction == "in").order_by(Message.id)).scalars().all()
    assert methods == ["new", "headers", "thread-index", "headers", "subject-tag", "headers"]


def test_gmail_and_spanish_conversations(desk: Desk) -> None:
    ingest(desk, "gmail/01-original.eml")
    ingest(desk, "gmail/02-reply-references.eml")
    desk_sent(desk, "MD-1", "MD-2.20240305101500.c0ffee02@acme.example")
    assert ingest(desk, "mobile/01-iphone.eml").outcome.ref == "MD-1"
    assert ingest(desk, "apple/01-apple-mail-qp-html.eml").outcome.ref == "MD-1"
    spanish = ingest(desk, "es/01-original-iso-8859-1-qp.eml").outcome.ref
    desk_sent(desk, spanish, "MD-3.20240306091000.3d3d3d3d@acme.example")
    for name in ("es/02-reply-windows-1252-8bit.eml", "es/05-gmail-es-iso-8859-1-8bit.eml"):
        assert ingest(desk, name).outcome.ref == spanish, name
    with desk.sessions() as session:
        texts = session.execute(select(Message.text).join(Ticket).where(
            Ticket.ref == spanish)).scalars().all()
    assert any("ñ" in t or "á" in t or "é" in t for t in texts)


def test_same_mail_twice_is_stored_once(desk: Desk) -> None:
    first = ingest(desk, "gmail/01-original.eml")
    second = ingest(desk, "gmail/01-original.eml")
    assert first.raw_id == second.raw_id and second.duplicate and second.outcome is None
    no_id = eml("broken/04-no-message-id.eml")
    assert ingest(desk, no_id).raw_id == ingest(desk, no_id).raw_id
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RawMessage)) == 2
        assert session.scalar(select(func.count()).select_from(Ticket)) == 2


def test_unparseable_mail_is_quarantined_and_the_next_goes_on(desk: Desk) -> None:
    bad = ingest(desk, "broken/08-not-mail.eml")
    assert bad.outcome.kind == "quarantined"
    assert ingest(desk, "gmail/01-original.eml").outcome.kind == "new-ticket"
    with desk.sessions() as session:
        row = session.get(RawMessage, bad.raw_id)
        assert row.state == "quarantined" and "no header" in row.error
        assert row.data == eml("broken/08-not-mail.eml")
    assert (desk.quarantine_dir / f"{bad.raw_id}.eml").read_bytes() == row.data
    assert retry_quarantined(desk, bad.raw_id).kind == "quarantined"
    with desk.sessions() as session:
        assert session.get(RawMessage, bad.raw_id).attempts == 2


def _mail(sender: str, subject: str, body: str = "Hello, please help.", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@acme.example", subject
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_stranger_with_subject_tag_opens_linked_ticket(desk: Desk) -> None:
    ingest(desk, _mail("ana@cliente.example", "Printer broken", Message_ID="<a1@cliente.example>"))
    result = ingest(desk, _mail("mallory@evil.example", "Re: [MD-1] Printer broken",
                                Message_ID="<m1@evil.example>"))
    assert result.outcome.kind == "new-ticket" and result.outcome.ref == "MD-2"
    with desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == "MD-2")).scalar_one()
        assert session.get(Ticket, ticket.related_ticket_id).ref == "MD-1"


def test_reply_all_to_unknown_reference_joins_by_alias(desk: Desk) -> None:
    ingest(desk, _mail("ana@cliente.example", "VPN down", Message_ID="<a2@cliente.example>",
                       References="<internal-thread@cliente.example>"))
    colleague = _mail("luis@cliente.example", "Re: VPN down (from the other office)",
                      Message_ID="<l1@cliente.example>",
                      In_Reply_To="<internal-thread@cliente.example>")
    assert ingest(desk, colleague).outcome.ref == "MD-1"
    assert method_of(desk, "l1@cliente.example") == ("MD-1", ThreadMethod.HEADERS)


def test_address_token_and_weak_subject_match(desk: Desk) -> None:
    ingest(desk, _mail("ana@cliente.example", "Impresora rota", Message_ID="<a3@cliente.example>"))
    token = ingest(desk, _mail("ana@cliente.example", "más datos", Message_ID="<a4@cliente.example>"),
                   to=("support+MD-1@acme.example",))
    assert token.outcome.ref == "MD-1"
    weak = ingest(desk, _mail("pepe@cliente.example", "RE: Impresora rota",
                              Message_ID="<p1@cliente.example>"))
    assert weak.outcome.ref == "MD-1"
    with desk.sessions() as session:
        row = session.execute(select(Message).where(Message.message_id == "p1@cliente.example")
                              ).scalar_one()
        assert (row.thread_method, row.weak_match) == ("subject", True)
    other_org = ingest(desk, _mail("x@otra.example", "RE: Impresora rota",
                                   Message_ID="<x1@otra.example>"))
    assert other_org.outcome.kind == "new-ticket"


def _close(desk: Desk, ref: str, days_ago: int) -> None:
    with desk.sessions.begin() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        ticket.status = TicketStatus.CLOSED
        ticket.closed_at = desk.clock() - timedelta(days=days_ago)


def test_reply_to_closed_ticket_reopens_within_grace_else_links(desk: Desk) -> None:
    ingest(desk, _mail("ana@cliente.example", "Laptop", Message_ID="<c1@cliente.example>"))
    _close(desk, "MD-1", days_ago=2)
    ingest(desk, _mail("ana@cliente.example", "Re: Laptop", Message_ID="<c2@cliente.example>",
                       In_Reply_To="<c1@cliente.example>"))
    with desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == "MD-1")).scalar_one()
        assert (ticket.status, ticket.reopen_count) == ("open", 1)
    _close(desk, "MD-1", days_ago=40)
    late = ingest(desk, _mail("ana@cliente.example", "Re: Laptop", Message_ID="<c3@cliente.example>",
                              In_Reply_To="<c1@cliente.example>"))
    assert late.outcome.kind == "new-ticket" and late.outcome.ref == "MD-2"


def test_new_ticket_is_routed_acknowledged_and_notified(desk: Desk) -> None:
    result = ingest(desk, _mail("ana@cliente.example", "Servidor caído",
                                "El servidor de correo está caído desde esta mañana.",
                                Message_ID="<o1@cliente.example>"))
    with desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == result.outcome.ref)).scalar_one()
        assert (ticket.type, ticket.queue, ticket.team, ticket.priority) == (
            "incident", "infrastructure", "l2", "P1")
        assert ticket.assignee == "bruno@example.com" and "outage" in ticket.tags
        assert ticket.response_due_at is not None and ticket.language == "es"
        rows = session.execute(select(Outbox).order_by(Outbox.id)).scalars().all()
        assert [(r.kind.startswith("ack"), r.to_addr) for r in rows] == [
            (True, "ana@cliente.example"), (False, "bruno@example.com")]
        assert b"support+MD-1." in rows[1].data  # the agent's signed reply address


def test_automatic_mail_gets_no_answer(desk: Desk) -> None:
    for name in ("autoreply/04-autoresponder-precedence-bulk.eml", "lists/01-mailman.eml"):
        ingest(desk, name)
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.kind.like("ack%"))) == 0


def test_bounce_of_desk_mail_attaches_and_suppresses(desk: Desk) -> None:
    ingest(desk, _mail("lost@cliente.example", "Hola", Message_ID="<b1@cliente.example>"))
    with desk.sessions() as session:
        ack = session.execute(select(Outbox).where(Outbox.kind.like("ack%"))).scalar_one()
    dsn = eml("bounce/01-postfix-user-unknown.eml")
    original = dsn.split(b"Message-ID: <MD-4.", 1)
    assert len(original) == 2, "fixture changed"
    old_id = b"MD-4." + original[1].split(b">", 1)[0]
    result = ingest(desk, dsn.replace(old_id, ack.message_id.encode()))
    assert (result.outcome.kind, result.outcome.ref) == ("bounce", "MD-1")
    with desk.sessions() as session:
        assert session.get(Outbox, ack.id).state == OutboxState.BOUNCED
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert session.scalar(select(func.count()).select_from(Suppression)) >= 1


def test_winmail_dat_is_noted_on_the_ticket(desk: Desk) -> None:
    ref = ingest(desk, "outlook/06-winmail-dat.eml").outcome.ref
    with desk.sessions() as session:
        actions = session.execute(select(Event.action).join(Ticket).where(
            Ticket.ref == ref)).scalars().all()
    assert "winmail-dat" in actions


def test_customer_saying_solved_resolves_the_ticket(desk: Desk) -> None:
    ingest(desk, _mail("ana@cliente.example", "Correo no sincroniza",
                       Message_ID="<s1@cliente.example>"))
    ingest(desk, _mail("ana@cliente.example", "Re: Correo no sincroniza",
                       "¡Resuelto! Ya funciona, muchas gracias.\n\n> texto citado",
                       Message_ID="<s2@cliente.example>", In_Reply_To="<s1@cliente.example>"))
    ingest(desk, _mail("ana@cliente.example", "Another problem", Message_ID="<s3@cliente.example>"))
    ingest(desk, _mail("ana@cliente.example", "Re: Another problem", "Solved? Not yet, sadly.",
                       Message_ID="<s4@cliente.example>", In_Reply_To="<s3@cliente.example>"))
    with desk.sessions() as session:
        states = dict(session.execute(select(Ticket.ref, Ticket.status)).all())
    assert states == {"MD-1": "resolved", "MD-2": "new"}
