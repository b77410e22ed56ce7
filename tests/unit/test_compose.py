"""compose(): headers, threading, Thread-Index, encoding and MIME structure."""

from __future__ import annotations

import base64
import struct
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from maildesk.config.model import DeskConfig
from maildesk.mail import thread_index
from maildesk.outbox.compose import (
    AutoSubmitted,
    Thread,
    chain_references,
    compose,
    tag_subject,
    thread_topic,
)
from maildesk.types import Address, Attachment

DESK = DeskConfig(name="Acme Support", addresses=("support@acme.example",),
                  timezone="Europe/Madrid")
NOW = datetime(2024, 3, 11, 9, 30, tzinfo=UTC)
MARIA = Address("maria@example.com", "María Pérez")


def build(**kwargs: object) -> tuple[EmailMessage, bytes]:
    args: dict[str, object] = dict(kind="ack", desk=DESK, ticket_ref="MD-1042", to=[MARIA],
                                   subject="La impresora no imprime", text="Hola\n",
                                   html="<p>Hola</p>", now=NOW)
    args.update(kwargs)
    out = compose(**args)  # type: ignore[arg-type]
    msg = message_from_bytes(out.data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg, out.data


def test_basic_headers() -> None:
    msg, raw = build()
    assert msg["From"].addresses[0].display_name == "Acme Support"
    assert msg["From"].addresses[0].addr_spec == "support@acme.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "support@acme.example"
    assert msg["Subject"] == "[MD-1042] La impresora no imprime"
    assert msg["Date"] == "Mon, 11 Mar 2024 10:30:00 +0100"
    assert msg["Message-ID"].endswith("@acme.example>") and "MD-1042" in msg["Message-ID"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Precedence"] is None
    assert msg["X-Maildesk-Ticket"] == "MD-1042" and msg["X-Maildesk-Kind"] == "ack"
    assert msg["Thread-Topic"] == "La impresora no imprime"
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_non_ascii_names_are_rfc2047_encoded() -> None:
    msg, raw = build(from_name="Ana — Acme Support", subject="Consulta sobre facturación")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    assert msg["From"].addresses[0].display_name == "Ana — Acme Support"
    assert msg["To"].addresses[0].display_name == "María Pérez"
    assert msg["Subject"] == "[MD-1042] Consulta sobre facturación"


def test_message_ids_are_unique() -> None:
    ids = {compose(kind="ack", desk=DESK, ticket_ref="MD-1", to=["a@b.example"], subject="s",
                   text="t", html=None, now=NOW).message_id for _ in range(200)}
    assert len(ids) == 200


@pytest.mark.parametrize("subject, expected", [
    ("Printer", "[MD-1042] Printer"),
    ("Re: Printer", "Re: [MD-1042] Printer"),
    ("RE: AW: Printer", "RE: AW: [MD-1042] Printer"),
    ("Re: [MD-1042] Printer", "Re: [MD-1042] Printer"),
    ("Printer [md-1042]", "Printer [md-1042]"),
    ("Hello\r\nBcc: x@y", "[MD-1042] Hello Bcc: x@y"),
    ("", "[MD-1042]"),
])
def test_subject_tag_added_once(subject: str, expected: str) -> None:
    assert tag_subject(subject, "MD-1042") == expected


def test_thread_topic_strips_prefix_and_tag() -> None:
    assert thread_topic("Re: [MD-1042] Printer", "MD-1042") == "Printer"


def test_in_reply_to_and_references() -> None:
    thread = Thread(in_reply_to="c@x", references=("<a@x>", "<b@x>"))
    msg, _ = build(thread=thread, kind="update")
    assert msg["In-Reply-To"] == "<c@x>"
    assert msg["References"] == "<a@x> <b@x> <c@x>"
    assert msg["Auto-Submitted"] is None  # a human agent's reply


def test_references_are_capped_first_plus_last() -> None:
    ids = [f"<{i}@x>" for i in range(40)]
    chained = chain_references(ids, "<40@x>", keep=10)
    assert chained[0] == "0@x" and chained[-1] == "40@x" and len(chained) == 11
    assert chain_references(["a@x", "b@x", "a@x"], "b@x") == ["a@x", "b@x"]


def test_timer_mail_is_auto_generated() -> None:
    msg, _ = build(kind="reminder")
    assert msg["Auto-Submitted"] == "auto-generated"
    msg, _ = build(kind="update", auto=AutoSubmitted.GENERATED)
    assert msg["Auto-Submitted"] == "auto-generated"


def test_reply_to_token_address() -> None:
    msg, _ = build(reply_to="support+MD-1042.k3y@acme.example")
    assert msg["Reply-To"].addresses[0].addr_spec == "support+MD-1042.k3y@acme.example"


def test_mime_structure_and_attachments() -> None:
    pdf = Attachment("informe.pdf", "application/pdf", b"%PDF-1.4 test")
    msg, _ = build(attachments=[pdf])
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_body(("plain",)).get_content().splitlines() == ["Hola"]
    assert "<p>Hola</p>" in msg.get_body(("html",)).get_content()
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "informe.pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"
    only_text, _ = build(html=None)
    assert only_text.get_content_type() == "text/plain"


def test_recipients_and_outgoing_fields() -> None:
    out = compose(kind="notify_agent", desk=DESK, ticket_ref="MD-7", to=["Ana@Acme.example"],
                  cc=[MARIA], subject="s", text="t", html=None, now=NOW, ticket_id=7)
    assert out.recipients == ("ana@acme.example", "maria@example.com")
    assert out.ticket_id == 7 and out.automatic and out.kind == "notify_agent"
    assert out.message_id.endswith("@acme.example") and "<" not in out.message_id


def test_thread_index_new_conversation_is_stable_per_ticket() -> None:
    first, _ = build()
    second, _ = build(kind="reminder")
    a = base64.b64decode(first["Thread-Index"])
    b = base64.b64decode(second["Thread-Index"])
    assert len(a) == 22 and a[0] == 0x01
    assert a[6:] == b[6:]  # same GUID: one Outlook conversation per ticket
    other, _ = build(ticket_ref="MD-1043")
    assert base64.b64decode(other["Thread-Index"])[6:] != a[6:]


def test_thread_index_reply_appends_a_child_block() -> None:
    parent = thread_index.new_header(NOW - timedelta(hours=2), bytes(range(16)))
    msg, _ = build(thread=Thread(thread_index=parent))
    index = base64.b64decode(msg["Thread-Index"])
    assert len(index) == 27 and index[:22] == parent
    word = struct.unpack(">I", index[22:26])[0]
    assert word >> 31 == 0
    elapsed = (word & 0x7FFFFFFF) << 18  # 100 ns ticks, truncated to 26 ms steps
    assert abs(elapsed / 1e7 - 7200) < 7  # the header time lost its low 16 bits
    grandchild = thread_index.reply_index(index, NOW)
    assert len(grandchild) == 32


def test_malformed_parent_thread_index_starts_a_new_one() -> None:
    msg, _ = build(thread=Thread(thread_index=b"short"))
    assert len(base64.b64decode(msg["Thread-Index"])) == 22


def test_thread_index_decode() -> None:
    header = thread_index.new_header(NOW, bytes(16))
    assert thread_index.decode(thread_index.encode(header)) == header
    assert thread_index.decode("not base64!") is None
    assert thread_index.decode(base64.b64encode(b"x" * 23).decode()) is None


def test_filetime() -> None:
    assert thread_index.filetime(datetime(1601, 1, 1, tzinfo=UTC)) == 0
    assert thread_index.filetime(datetime(1970, 1, 1, tzinfo=UTC)) == 116444736000000000
