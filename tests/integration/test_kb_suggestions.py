"""Acknowledgements suggest published articles for the queues that ask for it."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from maildesk.config.model import load_config
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import open_desk
from maildesk.store.models import Article, Outbox
from maildesk.types import RawMail, Source
from tests.conftest import write_desk


def _ack_text(tmp_path: Path, db_url: str, extra: str) -> str:
    desk = open_desk(load_config(write_desk(tmp_path / "desk", db_url, extra)))
    try:
        with desk.sessions.begin() as session:
            session.add(Article(title="La impresora muestra el error E-13",
                                problem="La impresora no imprime y muestra E-13",
                                solution="Abra la bandeja trasera y retire el papel atascado.",
                                language="es", state="published", tags=[]))
        msg = EmailMessage()
        msg["From"], msg["To"] = "ana@cliente.example", "support@acme.example"
        msg["Subject"], msg["Message-ID"] = "Impresoras con error E-13", "<k1@cliente.example>"
        msg.set_content("Hola, las impresoras de la planta 2 muestran el error E-13.")
        accept(desk, RawMail(msg.as_bytes(), Source.PIPE))
        with desk.sessions() as session:
            data = session.execute(select(Outbox).where(Outbox.kind.like("ack%"))
                                   ).scalar_one().data
        return message_from_bytes(data, policy=policy.default).get_body(("plain",)).get_content()
    finally:
        desk.close()


def test_ack_suggests_articles_when_the_queue_wants_them(tmp_path: Path, db_url: str) -> None:
    text = _ack_text(tmp_path, db_url, '\n[kb]\nsuggest_queues = ["general"]\n')
    assert "La impresora muestra el error E-13" in text and "resuelto" in text


def test_no_suggestions_by_default(tmp_path: Path, db_url: str) -> None:
    assert "E-13:" not in _ack_text(tmp_path, db_url, "")
