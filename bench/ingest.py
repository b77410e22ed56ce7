"""Ingest throughput: the full pipeline against a bare baseline, on SQLite and PostgreSQL.

Generates N messages (about 60% new tickets, 35% replies threaded by headers or by the
subject tag, 5% auto-replies and bounces; some with attachments, some non-ASCII), ingests
them one by one through `pipeline.accept` in this process, and prints msgs/s next to a
baseline measured in the same run: stdlib email parsing plus one INSERT of the raw bytes
per message, committed per message, on the same engine with the same durability settings.
Also checks that every reply landed on the ticket of the mail it answers.

    .venv/bin/python bench/ingest.py [-n 2000] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import email
import logging
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import write_desk  # noqa: E402

from maildesk.config.model import load_config  # noqa: E402
from maildesk.pipeline.flow import accept  # noqa: E402
from maildesk.runtime.desk import open_desk  # noqa: E402
from maildesk.store.db import make_engine  # noqa: E402
from maildesk.store.models import Message  # noqa: E402
from maildesk.types import RawMail, Source  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SUBJECTS = ["Printer not working", "No puedo acceder al correo", "Invoice question",
            "Servidor caído en producción", "VPN disconnects", "Solicitud de alta de usuario",
            "Password reset", "Facturación de noviembre", "Laptop screen broken"]
NAMES = ["Ana García", "Bruno Díaz", "Chloé Martin", "John Smith", "Íñigo Muñoz", "Lee Wong"]


@dataclass
class Generated:
    data: bytes
    kind: str  # new, reply, auto
    parent: str | None  # Message-ID of the mail it answers


def _mail(subject: str, sender: str, name: str, body: str, when: datetime,
          attach: bool) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = "Acme Support <support@acme.example>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg.set_content(body)
    if attach:
        msg.add_attachment(random.randbytes(2048), maintype="application", subtype="pdf",
                           filename="informe-añadido.pdf")
    return msg


def generate(n: int, seed: int = 7) -> list[Generated]:
    random.seed(seed)
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    out: list[Generated] = []
    originals: list[tuple[str, str, str, int]] = []  # message-id, subject, sender, number
    for i in range(n):
        when = start + timedelta(minutes=i)
        roll = random.random()
        if roll < 0.60 or len(originals) < 5:
            person = random.randrange(len(NAMES) * 40)
            sender = f"user{person}@cliente{person % 50}.example"
            subject = f"{random.choice(SUBJECTS)} #{i}"
            msg = _mail(subject, sender, NAMES[person % len(NAMES)],
                        "Hola,\n\nTengo un problema con el equipo. ¿Pueden ayudarme?\n" * 5,
                        when, random.random() < 0.15)
            originals.append((msg["Message-ID"].strip("<>"), subject, sender, len(originals) + 1))
            out.append(Generated(msg.as_bytes(), "new", None))
        elif roll < 0.95:
            mid, subject, sender, number = random.choice(originals)
            by_tag = random.random() < 0.4
            msg = _mail(f"RE: [MD-{number}] {subject}" if by_tag else f"Re: {subject}", sender,
                        "Cliente", "Gracias, adjunto más información.\n\n> quoted text\n", when,
                        random.random() < 0.1)
            if not by_tag:
                msg["In-Reply-To"] = f"<{mid}>"
                msg["References"] = f"<{mid}>"
            out.append(Generated(msg.as_bytes(), "reply", mid))
        else:
            mid, subject, sender, _ = random.choice(originals)
            msg = _mail(f"Automatic reply: {subject}", sender, "Out of office",
                        "I am out of the office until Monday.", when, False)
            msg["Auto-Submitted"] = "auto-replied"
            msg["In-Reply-To"] = f"<{mid}>"
            out.append(Generated(msg.as_bytes(), "auto", mid))
    return out


def baseline(url: str, mails: list[Generated]) -> float:
    """stdlib parse + one INSERT of the raw bytes per message, one commit each."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_raw"))
        blob = "BYTEA" if engine.dialect.name == "postgresql" else "BLOB"
        conn.execute(text(f"CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, mid TEXT, "
                          f"data {blob})"))
    started = time.perf_counter()
    for i, mail in enumerate(mails):
        parsed = email.message_from_bytes(mail.data, policy=default_policy)
        _ = parsed.get_body(("plain", "html"))
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_raw (id, mid, data) VALUES (:i, :m, :d)"),
                         {"i": i, "m": parsed["Message-ID"], "d": mail.data})
    elapsed = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_raw"))
    engine.dispose()
    return len(mails) / elapsed


def full(url: str, root: Path, mails: list[Generated]) -> tuple[float, int, int]:
    desk = open_desk(load_config(write_desk(root, url)))
    started = time.perf_counter()
    for mail in mails:
        accept(desk, RawMail(mail.data, Source.PIPE, envelope_to=("support@acme.example",)))
    elapsed = time.perf_counter() - started
    good, total = check_threading(desk, mails)
    desk.close()
    return len(mails) / elapsed, good, total


def check_threading(desk, mails: list[Generated]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with desk.sessions() as session:
        rows = dict(session.execute(select(Message.message_id, Message.ticket_id)).all())
    good = total = 0
    for mail in mails:
        if mail.kind == "new":
            continue
        mid = email.message_from_bytes(mail.data)["Message-ID"].strip("<>")
        total += 1
        good += rows.get(mid) is not None and rows.get(mid) == rows.get(mail.parent)
    return good, total


def pg_fresh_schema(schema: str = "bench_ingest") -> str:
    engine = make_engine(PG)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{PG}?options=-csearch_path%3D{schema}"


def main() -> None:
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    mails = generate(args.n)
    kinds = {k: sum(m.kind == k for m in mails) for k in ("new", "reply", "auto")}
    print(f"{len(mails)} messages: {kinds}")
    for engine_name in args.engines.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            url = (f"sqlite:///{root}/base.db" if engine_name == "sqlite"
                   else pg_fresh_schema())
            base = baseline(url, mails)
            desk_url = (f"sqlite:///{root}/desk/maildesk.db" if engine_name == "sqlite"
                        else pg_fresh_schema())
            rate, good, total = full(desk_url, root / "desk", mails)
            print(f"{engine_name:9} baseline {base:8.1f} msg/s   full pipeline {rate:8.1f} msg/s"
                  f"   ratio {base / rate:5.2f}x   replies threaded {good}/{total}")


if __name__ == "__main__":
    main()
