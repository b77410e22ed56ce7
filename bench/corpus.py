"""A generated help-desk corpus shared by the benchmarks: new tickets, replies, auto-replies.

About 60% new tickets, 35% replies (threaded by In-Reply-To/References or by the subject
tag), 5% out-of-office answers; some with a small attachment, many non-ASCII. Each item
knows the Message-ID of the mail it answers, so threading accuracy can be checked.
"""

from __future__ import annotations

import email
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select

SUBJECTS = ["Printer not working", "No puedo acceder al correo", "Invoice question",
            "Servidor caído en producción", "VPN disconnects", "Solicitud de alta de usuario",
            "Password reset", "Facturación de noviembre", "Laptop screen broken"]
NAMES = ["Ana García", "Bruno Díaz", "Chloé Martin", "John Smith", "Íñigo Muñoz", "Lee Wong"]
DESK = "support@acme.example"


@dataclass
class Generated:
    data: bytes
    kind: str  # new, reply, auto
    parent: str | None  # Message-ID of the mail it answers
    message_id: str


def _mail(subject: str, sender: str, name: str, body: str, when: datetime,
          attach: bool) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = f"Acme Support <{DESK}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg.set_content(body)
    if attach:
        msg.add_attachment(random.randbytes(2048), maintype="application", subtype="pdf",
                           filename="informe-añadido.pdf")
    return msg


def _new(i: int, when: datetime) -> tuple[EmailMessage, str, str]:
    person = random.randrange(len(NAMES) * 40)
    sender = f"user{person}@cliente{person % 50}.example"
    subject = f"{random.choice(SUBJECTS)} #{i}"
    msg = _mail(subject, sender, NAMES[person % len(NAMES)],
                "Hola,\n\nTengo un problema con el equipo. ¿Pueden ayudarme?\n" * 5,
                when, random.random() < 0.15)
    return msg, subject, sender


def generate(n: int, seed: int = 7) -> list[Generated]:
    random.seed(seed)
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    out: list[Generated] = []
    originals: list[tuple[str, str, str, int]] = []  # message-id, subject, sender, number
    for i in range(n):
        when = start + timedelta(minutes=i)
        roll = random.random()
        if roll < 0.60 or len(originals) < 5:
            msg, subject, sender = _new(i, when)
            mid = msg["Message-ID"].strip("<>")
            originals.append((mid, subject, sender, len(originals) + 1))
            out.append(Generated(msg.as_bytes(), "new", None, mid))
        elif roll < 0.95:
            mid, subject, sender, number = random.choice(originals)
            by_tag = random.random() < 0.4
            msg = _mail(f"RE: [MD-{number}] {subject}" if by_tag else f"Re: {subject}", sender,
                        "Cliente", "Gracias, adjunto más información.\n\n> quoted text\n", when,
                        random.random() < 0.1)
            if not by_tag:
                msg["In-Reply-To"] = f"<{mid}>"
                msg["References"] = f"<{mid}>"
            out.append(Generated(msg.as_bytes(), "reply", mid, msg["Message-ID"].strip("<>")))
        else:
            mid, subject, sender, _ = random.choice(originals)
            msg = _mail(f"Automatic reply: {subject}", sender, "Out of office",
                        "I am out of the office until Monday.", when, False)
            msg["Auto-Submitted"] = "auto-replied"
            msg["In-Reply-To"] = f"<{mid}>"
            out.append(Generated(msg.as_bytes(), "auto", mid, msg["Message-ID"].strip("<>")))
    return out


def kinds(mails: list[Generated]) -> dict[str, int]:
    return {k: sum(m.kind == k for m in mails) for k in ("new", "reply", "auto")}


def threading_accuracy(sessions, mails: list[Generated]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(replies on the ticket of the mail they answer, replies): auto-replies included."""
    from maildesk.store.models import Message

    with sessions() as session:
        rows = dict(session.execute(select(Message.message_id, Message.ticket_id)).all())
    good = total = 0
    for mail in mails:
        if mail.kind == "new":
            continue
        total += 1
        good += rows.get(mail.message_id) is not None and \
            rows.get(mail.message_id) == rows.get(mail.parent)
    return good, total


def message_id_of(data: bytes) -> str:
    return email.message_from_bytes(data)["Message-ID"].strip("<>")
