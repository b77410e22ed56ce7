"""Two desks (or a desk and a naive autoresponder) answering each other stay bounded."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from maildesk.config.model import load_config
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk, open_desk
from maildesk.store.models import Outbox
from maildesk.types import OutboxState, RawMail, Source
from tests.conftest import write_desk

OTHER = """[desk]
name = "Other Help"
addresses = ["help@other.example"]
ticket_prefix = "OH"
language = "en"
timezone = "UTC"
secret_file = "secret"
"""


def _desk(root: Path, url: str, other: bool = False) -> Desk:
    config = write_desk(root, url)
    if other:
        text = config.read_text()
        config.write_text(OTHER + text[text.index("[database]"):])
    return open_desk(load_config(config))


def _queued(desk: Desk, seen: set[int]) -> list[bytes]:
    with desk.sessions() as session:
        rows = [(o.id, o.data) for o in session.execute(select(Outbox).where(
            Outbox.state == OutboxState.QUEUED)).scalars()]
    fresh = [data for row_id, data in rows if row_id not in seen]
    seen.update(row_id for row_id, _ in rows)
    return fresh


def _count(desk: Desk, to: str) -> int:
    with desk.sessions() as session:
        return session.scalar(select(func.count()).select_from(Outbox).where(Outbox.to_addr == to))


def test_two_desks_do_not_ping_pong(tmp_path: Path, db_url: str) -> None:
    acme = _desk(tmp_path / "acme", db_url)
    other = _desk(tmp_path / "other", f"sqlite:///{tmp_path}/other.db", other=True)
    first = EmailMessage()
    first["From"], first["To"] = "Other Help <help@other.example>", "support@acme.example"
    first["Subject"], first["Message-ID"] = "Your invoice", "<start@other.example>"
    first.set_content("Please check the attached invoice.")
    accept(acme, RawMail(first.as_bytes(), Source.SMTP))
    seen_acme: set[int] = set()
    seen_other: set[int] = set()
    for _ in range(10):  # deliver each desk's new mail to the other, both ways
        for data in _queued(acme, seen_acme):
            accept(other, RawMail(data, Source.SMTP))
        for data in _queued(other, seen_other):
            accept(acme, RawMail(data, Source.SMTP))
    assert _count(acme, "help@other.example") == 1  # one acknowledgement, then silence
    assert _count(other, "support@acme.example") == 0  # nobody answers an auto-reply
    acme.close()
    other.close()


def test_naive_autoresponder_is_rate_limited(tmp_path: Path, db_url: str) -> None:
    acme = _desk(tmp_path / "acme", db_url)
    for n in range(20):  # a robot that strips every auto-reply header, answering each ack
        msg = EmailMessage()
        msg["From"], msg["To"] = "robot@bot.example", "support@acme.example"
        msg["Subject"], msg["Message-ID"] = f"Re: Ticket received {n}", f"<r{n}@bot.example>"
        msg.set_content("Thank you for your message.")
        accept(acme, RawMail(msg.as_bytes(), Source.SMTP))
    with acme.sessions() as session:
        states = dict(session.execute(select(Outbox.state, func.count()).where(
            Outbox.to_addr == "robot@bot.example").group_by(Outbox.state)).all())
    assert states[OutboxState.QUEUED] == acme.config.loops.per_recipient == 5
    assert states[OutboxState.SUPPRESSED] == 15  # held back, visible on the tickets
    acme.close()


def _customer_mail(sender: str, n: int) -> bytes:
    return (f"From: {sender}\r\nTo: support@acme.example\r\nSubject: order {n}\r\n"
            f"Message-ID: <order-{n}.{sender}>\r\n\r\nWhere is my order {n}?\r\n").encode()


def test_one_flooding_sender_does_not_starve_a_new_customer(tmp_path: Path,
                                                            db_url: str) -> None:
    """One mailbox floods (with +tags, so no two addresses are equal); acks still flow."""
    desk = open_desk(load_config(write_desk(tmp_path / "acme", db_url,
                                            "[loops]\nglobal_limit = 20\n")))
    for n in range(40):
        accept(desk, RawMail(_customer_mail(f"flood+{n}@spam.example", n), Source.PIPE))
    accept(desk, RawMail(_customer_mail("ana@customer.example", 99), Source.PIPE))
    with desk.sessions() as session:
        queued = session.execute(select(Outbox.to_addr).where(
            Outbox.state == OutboxState.QUEUED)).scalars().all()
    desk.close()
    assert "ana@customer.example" in queued
    assert len([a for a in queued if a.endswith("@spam.example")]) == 5  # per_recipient
