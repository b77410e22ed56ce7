"""Big attachments are parsed from the mail's own buffer, with the same result."""

from __future__ import annotations

import os
from email.message import EmailMessage

from maildesk.mail.parse import parse, set_aside


def _mail(payload: bytes, text: str = "Adjunto los logs de producción.\n") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana García <ana@cliente.example>"
    msg["To"] = "support@acme.example"
    msg["Subject"] = "Logs"
    msg["Message-ID"] = "<big-1@cliente.example>"
    msg.set_content(text)
    msg.add_attachment(payload, maintype="application", subtype="gzip", filename="logs.tar.gz")
    msg.add_attachment(b"small", maintype="application", subtype="pdf", filename="a.pdf")
    return msg.as_bytes()


def test_a_big_attachment_is_set_aside_and_decoded_unchanged() -> None:
    payload = os.urandom(200_000)
    data = _mail(payload)
    skeleton, aside = set_aside(data)
    assert len(aside) == 1 and len(skeleton) < 5_000
    mail = parse(data)
    assert [a.payload for a in mail.attachments] == [payload, b"small"]
    assert [a.filename for a in mail.attachments] == ["logs.tar.gz", "a.pdf"]
    assert mail.text == "Adjunto los logs de producción." and not mail.defects


def test_a_base64_looking_run_inside_plain_text_is_put_back() -> None:
    line = "QUJD" * 19 + "\n"  # 76 base64 characters, as in an armoured block
    text = "Here is the key:\n" + line * 600 + "end\n"
    msg = EmailMessage()
    msg["From"] = "ana@cliente.example"
    msg["Subject"] = "key"
    msg.set_content(text, cte="7bit")
    data = msg.as_bytes()
    assert set_aside(data)[1]  # the run was set aside ...
    assert parse(data).text == text.strip()  # ... and comes back in the text


def test_a_small_mail_is_parsed_as_it_came() -> None:
    data = _mail(b"x" * 100)
    assert set_aside(data) == (data, {})
