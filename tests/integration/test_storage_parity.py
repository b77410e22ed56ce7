"""SQLite and PostgreSQL store the same mail the same way, whatever bytes it carries.

PostgreSQL refuses NUL in text and values longer than a VARCHAR; SQLite accepts both.
Ordinary customer mail with a NUL byte or an over-long Message-ID must be a ticket on
both engines, with the raw bytes kept verbatim and the ids usable for threading.
"""

from __future__ import annotations

from sqlalchemy import select

from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.models import AttachmentRow, Contact, Message, Outbox, RawMessage, Ticket
from maildesk.store.text import bounded
from maildesk.types import RawMail, Source

LONG_A = "a" * 1100 + "@customer.example"
LONG_B = "a" * 1100 + "b@customer.example"  # same first 1100 characters as LONG_A


def _mail(subject: bytes, body: bytes, message_id: str, extra: bytes = b"",
          sender: bytes = b"Ana Ruiz <ana@customer.example>") -> bytes:
    return (b"From: " + sender + b"\r\nTo: support@acme.example\r\n"
            b"Subject: " + subject + b"\r\nMessage-ID: <" + message_id.encode() + b">\r\n"
            b"Date: Mon, 04 Mar 2024 10:00:00 +0100\r\n" + extra +
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + b"\r\n")


def _accept(desk: Desk, data: bytes) -> tuple[str, str | None]:
    result = accept(desk, RawMail(data, Source.PIPE))
    assert result.outcome is not None
    return result.outcome.kind, result.outcome.ref


def test_nul_bytes_make_a_ticket_and_the_raw_stays_verbatim(desk: Desk) -> None:
    data = _mail(b"Printer\x00 broken", b"It prints\x00 nothing.", "nul-1@customer.example",
                 b"X-Od\x00d: value\r\n", sender=b"Ana\x00 Ruiz <ana@customer.example>")
    assert _accept(desk, data) == ("new-ticket", "MD-1")
    with desk.sessions() as session:
        message = session.execute(select(Message).where(Message.direction == "in")).scalar_one()
        assert message.subject == "Printer broken"
        # The stdlib ends the header block at the invalid field name: the rest is body.
        assert message.text.endswith("It prints nothing.") and "\x00" not in message.text
        assert message.from_name == "Ana Ruiz"
        assert session.execute(select(Contact.name)).scalar_one() == "Ana Ruiz"
        assert session.execute(select(RawMessage.data)).scalar_one() == data
        ack = session.execute(select(Outbox.to_addr).where(
            Outbox.kind != "notify_agent")).scalars().all()
    assert ack == ["ana@customer.example"]


def test_nul_in_an_attachment_name_and_type(desk: Desk) -> None:
    data = (b"From: ana@customer.example\r\nTo: support@acme.example\r\nSubject: files\r\n"
            b"Message-ID: <att-nul@customer.example>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
            b"Content-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n"
            b"Content-Type: application/x-od\x00d; name=\"re\x00port.pdf\"\r\n"
            b"Content-ID: <c\x00id@customer.example>\r\n"
            b"Content-Disposition: attachment; filename=\"re\x00port.pdf\"\r\n\r\n"
            b"PDF\r\n--XX--\r\n")
    assert _accept(desk, data)[0] == "new-ticket"
    with desk.sessions() as session:
        row = session.execute(select(AttachmentRow)).scalar_one()
    assert row.filename == "report.pdf" and "\x00" not in row.content_type
    assert "\x00" not in (row.content_id or "")


def test_an_over_long_message_id_is_kept_whole_in_the_raw_and_threads(desk: Desk) -> None:
    first = _mail(b"Login fails", b"Hello", LONG_A)
    other = _mail(b"Another problem", b"Hello", LONG_B)
    assert _accept(desk, first) == ("new-ticket", "MD-1")
    assert _accept(desk, other) == ("new-ticket", "MD-2")  # not a duplicate of the first
    reply = _mail(b"Re: Login fails", b"More detail", "reply-1@customer.example",
                  b"In-Reply-To: <" + LONG_A.encode() + b">\r\n")
    assert _accept(desk, reply) == ("threaded", "MD-1")
    with desk.sessions() as session:
        raws = session.execute(select(RawMessage.data).order_by(RawMessage.id)).scalars().all()
        stored = session.execute(select(Message.message_id).join(Ticket).where(
            Ticket.ref == "MD-1", Message.direction == "in").order_by(Message.id)).scalars()
        assert list(stored) == [bounded(LONG_A, 998), "reply-1@customer.example"]
    assert raws[:2] == [first, other]


def test_a_reference_to_an_over_long_id_threads_by_references(desk: Desk) -> None:
    assert _accept(desk, _mail(b"VPN", b"down", LONG_B)) == ("new-ticket", "MD-1")
    follow = _mail(b"VPN again", b"still down", "f-2@customer.example",
                   b"References: <unknown@x.example> <" + LONG_B.encode() + b">\r\n")
    assert _accept(desk, follow) == ("threaded", "MD-1")


def test_bounded_keeps_short_values_and_tells_long_ones_apart() -> None:
    assert bounded("short@x", 998) == "short@x"
    a, b = bounded(LONG_A, 998), bounded(LONG_B, 998)
    assert a != b and len(a) <= 998 and len(b) <= 998
    assert a == bounded(LONG_A, 998)
