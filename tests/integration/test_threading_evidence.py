"""Threading that stays on the safe side, through the ingest path, on SQLite and PostgreSQL.

Forwards start new conversations, a weak match never picks between two tickets, and every
decision keeps its evidence for `maildesk tickets show`.
"""

from __future__ import annotations

import email
import json
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select

from maildesk.cli.main import main
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.models import Event, Outbox, Ticket
from maildesk.types import RawMail, Source


def ingest(desk: Desk, sender: str, subject: str, message_id: str, body: str = "",
           **headers: str):  # noqa: ANN201
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@acme.example", subject
    msg["Message-ID"] = message_id
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body or "Hola, adjunto el detalle. Gracias.")
    return accept(desk, RawMail(msg.as_bytes(), Source.PIPE)).outcome


def events(desk: Desk, ref: str, action: str) -> list[Event]:
    with desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        return list(session.execute(select(Event).where(
            Event.ticket_id == ticket.id, Event.action == action).order_by(Event.id)).scalars())


def show(tmp_path: Path, ref: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["--config", str(tmp_path / "desk" / "maildesk.toml"), "tickets", "show", ref,
              *extra])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("prefix", ["Fwd:", "FW:", "RV:", "WG:", "TR:", "Enc:", "I:", "VS:"])
def test_forward_from_the_same_customer_is_a_new_conversation(desk: Desk, prefix: str) -> None:
    first = ingest(desk, "nadia@harbour.example", "Payment receipt", "<n1@harbour.example>")
    forward = ingest(desk, "nadia@harbour.example", f"{prefix} Payment receipt",
                     "<n2@harbour.example>")
    assert (first.ref, forward.kind, forward.ref) == ("MD-1", "new-ticket", "MD-2")
    [threaded] = events(desk, "MD-2", "threaded")
    assert threaded.detail["method"] == "new" and "forward" in threaded.detail["evidence"]
    reply = ingest(desk, "nadia@harbour.example", "Re: Payment receipt", "<n3@harbour.example>",
                   In_Reply_To="<n2@harbour.example>")
    assert reply.ref == "MD-2"  # a forward's own headers still thread it


def test_two_fitting_tickets_open_a_linked_ticket_and_tell_the_agent(desk: Desk) -> None:
    body = "El servidor de correo está caído desde esta mañana."
    assert ingest(desk, "ana@cliente.example", "Servidor caído", "<s1@cliente.example>",
                  body).ref == "MD-1"
    assert ingest(desk, "ana@cliente.example", "Servidor caído", "<s2@cliente.example>",
                  body).ref == "MD-2"
    guess = ingest(desk, "ana@cliente.example", "RE: Servidor caído", "<s3@cliente.example>",
                   body)
    assert (guess.kind, guess.ref) == ("new-ticket", "MD-3")
    with desk.sessions() as session:
        opened = session.execute(select(Ticket).where(Ticket.ref == "MD-3")).scalar_one()
        assert session.get(Ticket, opened.related_ticket_id).ref == "MD-2"
        notices = session.execute(select(Outbox).where(
            Outbox.ticket_id == opened.id, Outbox.to_addr == "bruno@example.com")).scalars().all()
    [threaded] = events(desk, "MD-3", "threaded")
    assert threaded.detail["candidates"] == ["MD-2", "MD-1"]
    assert "not guessing" in threaded.reason
    for ref in ("MD-1", "MD-2"):
        [linked] = events(desk, ref, "possible-duplicate")
        assert linked.detail == {"ticket": "MD-3"}
    [notice] = notices
    text = email.message_from_bytes(notice.data, policy=default).get_body(
        ("plain",)).get_content()
    assert "podría pertenecer a MD-2, MD-1" in " ".join(text.split())


def test_one_fitting_ticket_is_a_weak_match_with_its_subject(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ingest(desk, "ana@cliente.example", "Impresora rota", "<i1@cliente.example>")
    weak = ingest(desk, "pepe@cliente.example", "AW: Impresora rota", "<i2@cliente.example>")
    assert (weak.kind, weak.ref) == ("threaded", "MD-1")
    out = show(tmp_path, "MD-1", capsys)
    assert 'evidence: subject "impresora rota" of a ticket by the same customer' in out
    assert "threaded by subject (weak)" in out


def test_show_names_the_evidence_of_every_decision(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ingest(desk, "ana@cliente.example", "VPN caída", "<v1@cliente.example>")
    ingest(desk, "ana@cliente.example", "Re: VPN caída", "<v2@cliente.example>",
           In_Reply_To="<v1@cliente.example>")
    ingest(desk, "ana@cliente.example", "Re: [MD-1] VPN caída", "<v3@cliente.example>")
    accept(desk, RawMail(_plain("ana@cliente.example", "más datos", "<v4@cliente.example>"),
                         Source.PIPE, envelope_to=("support+MD-1@acme.example",)))
    out = show(tmp_path, "MD-1", capsys)
    for line in ("evidence: no known Message-ID, tag or token",
                 "evidence: In-Reply-To <v1@cliente.example>",
                 "evidence: tag MD-1 from a party",
                 "evidence: address token MD-1 from a party"):
        assert line in out
    view = json.loads(show(tmp_path, "MD-1", capsys, "--json"))
    assert [m["evidence"].split(" ")[0] for m in view["messages"] if m["direction"] == "in"] == [
        "no", "In-Reply-To", "tag", "address"]


def _plain(sender: str, subject: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = (
        sender, "support@acme.example", subject, message_id)
    msg.set_content("Más datos del problema.")
    return msg.as_bytes()
