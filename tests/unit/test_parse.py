"""parse(): every corpus file, then one test per feature the pipeline relies on."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maildesk.errors import PermanentFailure
from maildesk.mail.mime import (
    decode_bytes,
    header_message_id,
    msg_ids,
    safe_filename,
)
from maildesk.mail.parse import parse
from maildesk.mail.thread_index import conversation
from maildesk.types import Address

MAIL_DIR = Path(__file__).parent.parent / "mail"
NOT_MAIL = {"broken/08-not-mail.eml"}
OWN_DIRS = ("outlook", "gmail", "thunderbird", "apple", "mobile", "autoreply", "bounce",
            "broken", "es", "forwarded", "lists")  # the folders tests/mail/README.md covers
CORPUS = sorted(str(p.relative_to(MAIL_DIR)) for p in MAIL_DIR.rglob("*.eml"))
ORIGINAL_MD1 = "AM0PR10MB2563E1F4C8B6A1D2B3C4D5E6F7A8B9C0@AM0PR10MB2563.EURPRD10.PROD.OUTLOOK.COM"


def _no_surrogates(text: str) -> bool:
    return not re.search(r"[\ud800-\udfff]", text)


@pytest.mark.parametrize("name", [n for n in CORPUS if n not in NOT_MAIL])
def test_every_corpus_mail_parses(name: str, eml) -> None:
    mail = parse(eml(name))
    assert mail.from_addr is not None and "@" in mail.from_addr.email
    assert mail.subject
    assert mail.text or mail.attachments or mail.forwarded
    assert all(_no_surrogates(v) for _, v in mail.headers)
    assert _no_surrogates(mail.text) and _no_surrogates(mail.subject)
    assert mail.message_id is None or "<" not in mail.message_id
    assert mail.date is None or mail.date.tzinfo is not None


def test_corpus_is_documented() -> None:
    readme = (MAIL_DIR / "README.md").read_text(encoding="utf-8")
    documented = [n for n in CORPUS if n.split("/")[0] in OWN_DIRS]
    assert len(documented) >= 35
    assert [n for n in documented if n not in readme] == []


def test_forwarded_empty_multipart_is_parsed(eml) -> None:
    mail = parse(eml("broken/09-forwarded-empty-multipart.eml"))
    assert mail.text.startswith("Hello, I forward")
    (inner,) = mail.forwarded
    assert (inner.from_addr.email, inner.subject) == ("scanner@example.org", "Scan 0042")


def test_not_a_mail_is_a_permanent_failure(eml) -> None:
    with pytest.raises(PermanentFailure, match="no header fields"):
        parse(eml("broken/08-not-mail.eml"))


# --- headers and addresses


def test_outlook_original(eml) -> None:
    mail = parse(eml("outlook/01-original.eml"))
    assert mail.message_id == ORIGINAL_MD1  # folded onto the next line by Exchange
    assert mail.subject == "Printer queue stuck on floor 3"
    assert mail.from_addr == Address("laura.bennett@example.com", "Laura Bennett")
    assert mail.to == (Address("support@acme.example"),)  # a name equal to the address
    assert mail.date == datetime(2024, 3, 4, 9, 14, 58, tzinfo=UTC)
    assert mail.header("thread-topic") == "Printer queue stuck on floor 3"
    assert "PRN-3F-01" in mail.text and mail.html and "MsoNormal" not in mail.text


def test_thread_index_keeps_the_22_byte_conversation_prefix(eml) -> None:
    original = parse(eml("outlook/01-original.eml")).thread_index
    reply = parse(eml("outlook/03-reply-thread-index-only.eml"))
    assert original is not None and len(original) == 22
    assert reply.thread_index == original
    assert reply.in_reply_to == () and reply.references == ()
    assert parse(eml("gmail/01-original.eml")).thread_index is None
    assert parse(eml("broken/05-garbage-headers.eml")).thread_index is None
    assert conversation("AQID") is None  # valid base64, too short


def test_one_thread_index_decoder_for_reading_and_replying() -> None:
    """parse once kept any 22+ bytes while thread_index.decode asked for 22 + 5 per
    reply, so a header the desk could not answer still grouped mail into a ticket."""
    header = bytes(range(1, 23))
    assert conversation(base64.b64encode(header + bytes(5)).decode()) == header
    assert conversation(base64.b64encode(header + bytes(3)).decode()) is None
    assert conversation(base64.b64encode(header).decode()) == header
    assert conversation("not base64!") is None and conversation(None) is None


def test_outlook_reply_with_in_reply_to_only(eml) -> None:
    mail = parse(eml("outlook/02-reply-in-reply-to.eml"))
    assert mail.in_reply_to == ("MD-1.20240304091502.a1b2c3d4@acme.example",)
    assert mail.references == ()
    assert mail.subject == "RE: [MD-1] Printer queue stuck on floor 3"


def test_q_encoded_name_and_lower_cased_address(eml) -> None:
    mail = parse(eml("outlook/04-aw-german-colleague.eml"))
    assert mail.from_addr == Address("joerg.mueller@example.com", "Jörg Müller")
    assert mail.cc == (Address("laura.bennett@example.com", "Laura Bennett"),)
    assert mail.in_reply_to == (ORIGINAL_MD1,)
    assert "Können" in mail.text and "Grüße" in mail.text


def test_references_keep_order_and_drop_duplicates(eml) -> None:
    mail = parse(eml("gmail/02-reply-references.eml"))
    assert mail.references == (
        "CAH8yC8k3vF0pQm2Lx9R7t=Zb1nW4eJdT5sY6uA+wq3XkL0vGmQ@mail.gmail.com",
        "MD-2.20240305083000.c0ffee01@acme.example",
        "MD-2.20240305101500.c0ffee02@acme.example",
    )
    assert mail.in_reply_to == ("MD-2.20240305101500.c0ffee02@acme.example",)
    assert len(parse(eml("apple/01-apple-mail-qp-html.eml")).references) == 4


def test_garbage_headers_still_give_ids(eml) -> None:
    mail = parse(eml("broken/05-garbage-headers.eml"))
    assert mail.message_id == "garbage-1@example.net"
    assert mail.in_reply_to == ("MD-1.20240304091502.a1b2c3d4@acme.example",)
    assert mail.references == ("a@example.net", "b@example.net", "c@example.net")
    assert mail.subject == "Garbage headers folded subject continuation"
    assert mail.from_addr is not None and mail.from_addr.email == "broken@example.net"
    assert mail.date is None
    assert any("DateHeaderDefect" in d for d in mail.defects)
    assert any("MissingHeaderBodySeparator" in d for d in mail.defects)


def test_no_message_id_is_none(eml) -> None:
    mail = parse(eml("broken/04-no-message-id.eml"))
    assert mail.message_id is None
    assert mail.from_addr == Address("printer-robot@example.com")


def test_msg_ids_helper() -> None:
    assert msg_ids("<a@x> <b@x>\r\n <a@x>") == ["a@x", "b@x"]
    assert msg_ids("bare@x.example") == ["bare@x.example"]
    assert msg_ids("") == [] and msg_ids(None) == [] and msg_ids("<>") == []


def test_return_path(eml) -> None:
    assert parse(eml("bounce/01-postfix-user-unknown.eml")).return_path == ""
    assert parse(eml("autoreply/02-vacation-sieve.eml")).return_path == ""
    assert parse(eml("gmail/01-original.eml")).return_path is None
    assert parse(eml("lists/02-newsletter-html-only.eml")).return_path == (
        "bounce-abc123@news.vendor.example")


def test_list_headers_are_kept_decoded_and_unfolded(eml) -> None:
    mail = parse(eml("lists/01-mailman.eml"))
    assert mail.header("list-id") == "Users discussion <users.lists.example.org>"
    unsubscribe = mail.header("list-unsubscribe")
    assert unsubscribe and "\n" not in unsubscribe and "users-leave@" in unsubscribe
    assert mail.header("precedence") == "list"


# --- charsets and Spanish text


@pytest.mark.parametrize(("name", "subject", "name_", "phrase"), [
    ("es/01-original-iso-8859-1-qp.eml", "¿Factura duplicada en marzo?", "María José Núñez",
     "¿Podrían revisarlo y anular una de ellas? ¡Gracias de antemano!"),
    ("es/02-reply-windows-1252-8bit.eml", "RE: [MD-3] ¿Factura duplicada en marzo?",
     "María José Núñez", "Sí, confirmo que la factura “duplicada” es la Nº 2024/0312 – la"),
    ("es/04-utf8-base64-encoded-words.eml", "¿Puedo añadir a una compañera? ¡Urgente!",
     "Nuria Dueñas", "¿Es posible añadir a mi compañera Begoña"),
    ("es/05-gmail-es-iso-8859-1-8bit.eml", "Re: [MD-3] ¿Factura duplicada en marzo?",
     "Javier Gómez", "la página de facturas tarda más de un minuto"),
    ("broken/03-declared-utf8-is-windows-1252.eml", "RE: [MD-3] ¿Factura duplicada en marzo?",
     "José Muñoz", "¿Cuándo podrá venir? Necesitamos la máquina “urgentemente”."),
    ("mobile/02-iphone-es.eml", "Re: [MD-3] ¿Factura duplicada en marzo?",
     "María José Núñez", "¡Ya está solucionado!\n\nEnviado desde mi iPhone"),
])
def test_spanish_text_in_every_charset(eml, name: str, subject: str, name_: str,
                                       phrase: str) -> None:
    mail = parse(eml(name))
    assert mail.subject == subject
    assert mail.from_addr is not None and mail.from_addr.name == name_
    assert phrase in mail.text
    assert "\ufffd" not in mail.text


def test_wrong_charset_is_recorded_as_a_defect(eml) -> None:
    mail = parse(eml("broken/03-declared-utf8-is-windows-1252.eml"))
    assert any("windows-1252" in d for d in mail.defects)


def test_unknown_charset_falls_back(eml) -> None:
    mail = parse(eml("broken/02-unknown-charset.eml"))
    assert mail.subject == "Café machine broken"
    assert mail.text == "The café machine on floor 2 is broken – it leaks water."


def test_8bit_headers(eml) -> None:
    mail = parse(eml("broken/06-8bit-headers.eml"))
    assert mail.subject == "Avería en la línea de producción"
    assert mail.from_addr == Address("jose.perez@example.es", "José Pérez")
    assert mail.header("x-comment") == "latin1 ñandú"


def test_decode_bytes_order() -> None:
    assert decode_bytes("año".encode(), "utf-8") == ("año", None)
    assert decode_bytes("año".encode("cp1252"), "utf-8") == ("año", "windows-1252")
    assert decode_bytes("“x”".encode("cp1252"), "iso-8859-1") == ("“x”", None)
    assert decode_bytes("ñ".encode(), "no-such-charset") == ("ñ", "utf-8")
    assert decode_bytes(b"\x81\x8d", "utf-8")[1] == "windows-1252 with replacements"


def test_encoded_words_b_and_q_in_one_subject(eml) -> None:
    assert parse(eml("outlook/07-tr-french-forward.eml")).subject == "TR: Commande 88812 retardée"
    mail = parse(eml("thunderbird/02-iso-8859-1-qp.eml"))
    assert mail.subject == "Re: [MD-5] Postfachgröße"
    assert mail.from_addr == Address("anja.weiss@example.de", "Anja Weiß")


# --- bodies


def test_multipart_alternative_gives_text_and_html(eml) -> None:
    mail = parse(eml("gmail/01-original.eml"))
    assert mail.text.startswith("Hi,\n\nI reset my password")
    assert "— even with the new password" in mail.text
    assert mail.html is not None and mail.html.startswith('<div dir="ltr">')


def test_html_only_mail_becomes_readable_text_and_safe_html(eml) -> None:
    mail = parse(eml("outlook/08-html-only.eml"))
    assert "Our new starter Zoë O’Brien cannot open the shared mailbox “Accounts”." in mail.text
    assert "Account: zobrien" in mail.text and "4100 – Finance" in mail.text
    assert "<" not in mail.text and "MsoNormal" not in mail.text and "alert" not in mail.text
    assert mail.html is not None
    assert "<script" not in mail.html and "onclick" not in mail.html
    assert "alert" not in mail.html and "<b>Zoë O’Brien</b>" in mail.html


def test_newsletter_html_only_text_has_no_layout_blanks(eml) -> None:
    mail = parse(eml("lists/02-newsletter-html-only.eml"))
    assert mail.text.startswith("What's new in March\n\nOur spring release")
    assert "\n\n\n" not in mail.text and not any(line.endswith(" ")
                                                for line in mail.text.splitlines())


def test_format_flowed_is_joined(eml) -> None:
    mail = parse(eml("thunderbird/01-format-flowed.eml"))
    assert "affected too since the password reset this morning. It looks like" in mail.text
    assert "> I reset my password" in mail.text  # quotes are left as they are


def test_inline_forward_stays_in_the_text(eml) -> None:
    mail = parse(eml("forwarded/01-inline-gmail.eml"))
    assert "---------- Forwarded message ---------" in mail.text
    assert mail.forwarded == ()
    spanish = parse(eml("forwarded/04-thunderbird-es-mensaje-reenviado.eml"))
    assert "-------- Mensaje reenviado --------" in spanish.text
    assert "¿La garantía cubre también la batería?" in spanish.text


def test_missing_closing_boundary_keeps_both_bodies(eml) -> None:
    mail = parse(eml("broken/01-missing-closing-boundary.eml"))
    assert mail.text == "My laptop shows a black screen after the BIOS logo."
    assert mail.html is not None and "BIOS" in mail.html
    assert any("CloseBoundaryNotFound" in d for d in mail.defects)


# --- attachments


def test_pdf_attachment(eml) -> None:
    mail = parse(eml("outlook/05-attachment-pdf.eml"))
    [pdf] = mail.attachments
    assert (pdf.filename, pdf.content_type, pdf.inline) == (
        "Invoice_2024-0311.pdf", "application/pdf", False)
    assert pdf.payload.startswith(b"%PDF-1.4") and len(pdf.payload) == 238


def test_inline_image_with_content_id(eml) -> None:
    mail = parse(eml("gmail/03-inline-image-cid.eml"))
    [image] = mail.attachments
    assert (image.filename, image.content_type) == ("error.png", "image/png")
    assert image.content_id == "ii_ltf3k9a20" and image.inline
    assert image.payload.startswith(b"\x89PNG")
    assert mail.html is not None and 'src="cid:ii_ltf3k9a20"' in mail.html


def test_rfc2231_filenames_and_path_components(eml) -> None:
    mail = parse(eml("gmail/04-rfc2231-filename.eml"))
    names = [a.filename for a in mail.attachments]
    assert names == ["Presupuesto año 2024.pdf", "passwd"]
    apple = parse(eml("apple/02-apple-attachment-inline-pdf.eml"))
    assert apple.attachments[0].filename == "Contrato firmado – Ibáñez.pdf"
    assert "Os envío el contrato firmado." in apple.text and "Lucía" in apple.text


def test_hostile_and_missing_filenames(eml) -> None:
    mail = parse(eml("broken/07-bad-base64-and-qp.eml"))
    assert [a.filename for a in mail.attachments] == ["log.txt", "attachment.bin"]
    assert mail.attachments[1].payload == b"\x00\x01\x02\x03\x04"
    assert "café" in mail.text


def test_safe_filename_helper() -> None:
    assert safe_filename("C:\\Users\\x\\evil.exe", "application/octet-stream") == "evil.exe"
    assert safe_filename("..", "image/png") == "attachment.png"
    assert safe_filename(None, "message/rfc822") == "attachment.eml"
    long = safe_filename("a" * 400 + ".pdf", "application/pdf")
    assert len(long) == 150 and long.endswith(".pdf")


def test_winmail_dat(eml) -> None:
    mail = parse(eml("outlook/06-winmail-dat.eml"))
    assert mail.has_winmail_dat
    assert mail.attachments[0].filename == "winmail.dat"
    assert mail.attachments[0].payload[:4] == b"\x78\x9f\x3e\x22"
    assert not parse(eml("outlook/05-attachment-pdf.eml")).has_winmail_dat


# --- forwarded messages


def test_forward_as_attachment_is_parsed(eml) -> None:
    mail = parse(eml("forwarded/02-message-rfc822-attachment.eml"))
    assert mail.subject == "Fwd: Entrega dañada"
    [inner] = mail.forwarded
    assert inner.message_id == "20240311170200.ABC123@mail.example.com"
    assert inner.from_addr == Address("r.ortega@example.com", "Rafael Ortega")
    assert inner.text == "El paquete llegó dañado. Adjunto una foto."
    assert [a.filename for a in inner.attachments] == ["foto.png"]
    assert mail.attachments == () and "paquete" not in mail.text


def test_nested_forwards(eml) -> None:
    mail = parse(eml("forwarded/03-nested-rfc822.eml"))
    assert mail.text == "Os lo reenvío, viene de recepción."
    assert mail.forwarded[0].subject == "Fwd: Fallo en el lector"
    assert mail.forwarded[0].forwarded[0].text == (
        "El lector de tarjetas de la recepción no funciona.")
    thunderbird = parse(eml("thunderbird/03-forward-as-attachment.eml"))
    assert thunderbird.forwarded[0].subject == "Your licence renewal"


# --- delivery status notifications


def test_postfix_bounce(eml) -> None:
    mail = parse(eml("bounce/01-postfix-user-unknown.eml"))
    report = mail.report
    assert report is not None and report.permanent
    assert report.original_message_id == "MD-4.20240307100000.4b4b4b4b@acme.example"
    assert report.recipients == ("j.smiht@example.net",)
    assert (report.action, report.status) == ("failed", "5.1.1")
    assert report.diagnostic.startswith("smtp; 550 5.1.1") and "User unknown" in report.diagnostic
    assert mail.from_addr == Address("mailer-daemon@mail.acme.example", "Mail Delivery System")
    assert "Reporting-MTA" not in mail.text and "I'm sorry to have to inform you" in mail.text


def test_exchange_ndr_with_rfc822_headers(eml) -> None:
    report = parse(eml("bounce/02-exchange-ndr.eml")).report
    assert report is not None
    assert report.original_message_id == "MD-6.20240308140000.6c6c6c6c@acme.example"
    assert report.recipients == ("r.ortega@example.com",)
    assert report.status == "5.1.10" and report.permanent
    assert "Recipient not found by SMTP address lookup" in report.diagnostic


def test_delayed_dsn_uses_the_envelope_id(eml) -> None:
    report = parse(eml("bounce/03-delayed-envelope-id.eml")).report
    assert report is not None and not report.permanent
    assert (report.action, report.status) == ("delayed", "4.4.7")
    assert report.original_message_id == "MD-8.20240309060000.8d8d8d8d@acme.example"
    assert report.recipients == ("ops@slow.example.org",)


def test_ordinary_mail_has_no_report(eml) -> None:
    assert parse(eml("autoreply/01-outlook-automatic-reply.eml")).report is None


def test_header_message_id_reads_the_same_from_a_mail_and_from_its_headers() -> None:
    """Intake keys a mail by this value and IMAP reconciliation looks it up from a
    header-only fetch: a long Message-ID once came out cut in one and whole in the other.
    It is whole in both: storage bounds it with a hash, so ids sharing a head stay apart."""
    long_id = "x" * 950 + "@host.example"
    mail = f"Subject: s\r\nMessage-ID: <{long_id}>\r\n\r\nMessage-ID: <body@x>\r\n".encode()
    fetched = f"Message-ID: <{long_id}>\r\n\r\n".encode()
    assert header_message_id(mail) == header_message_id(fetched) == long_id
    assert header_message_id(b"Message-ID: <abc@host>\r\n\r\n") == "abc@host"
    assert header_message_id(b"Subject: none\n\nMessage-ID: <in-body@x>\n") is None
    assert header_message_id(b"\r\n") is None
