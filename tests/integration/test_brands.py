"""[[brands]] over real SMTP, on SQLite and PostgreSQL: mail to a brand's address is
acknowledged from that address with that brand's templates, signature, prefix and links;
an agent's answer goes out under the ticket's brand; reports filter by brand; mail to
the desk's own address is answered as before."""

from __future__ import annotations

import io
import json
import smtplib
from collections.abc import Iterator
from contextlib import redirect_stdout
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from conftest import write_desk
from daemon_helpers import LoopThread

from maildesk.cli.main import main
from maildesk.config.model import RelayConfig, load_config
from maildesk.intake import smtp
from maildesk.intake.receiver import Receiver
from maildesk.outbox.send import flush_once
from maildesk.runtime.desk import Desk, open_desk
from maildesk.store.models import Ticket

BRANDS = """
[smtp]
listen = "127.0.0.1:0"

[web]
base_url = "https://desk.acme.example"

[[brands]]
name = "globex"
addresses = ["help@globex.example"]
display_name = "Globex Help"
signature = "Globex Corporation · help@globex.example"
language = "es"
templates = "brand-globex"
base_url = "https://help.globex.example"
ticket_prefix = "GX"
"""
BRAND_ACK = ("{% block subject %}Globex ha recibido: {{ subject }}{% endblock %}\n"
             "{% block body %}Hola desde {{ desk_name }}. Referencia {{ ticket_ref }}. "
             "{{ status_url }}{% endblock %}\n")


@pytest.fixture
def branded(tmp_path: Path, db_url: str) -> Iterator[tuple[Desk, int]]:
    path = write_desk(tmp_path / "desk", db_url, BRANDS)
    for name in ("ack", "ack-out-of-hours"):
        folder = tmp_path / "desk" / "brand-globex" / "es"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.txt.j2").write_text(BRAND_ACK)
    config = load_config(path)
    desk = open_desk(config)
    loop = LoopThread()
    listener = loop.run(smtp.listen(config.smtp, Receiver(desk)))
    yield desk, listener.port
    listener.stop_accepting()
    loop.run(listener.close_sessions())
    loop.close()
    desk.close()


def mail(to: str, sender: str, subject: str, mid: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = mid
    msg.set_content("Necesito ayuda con mi pedido.")
    return msg.as_bytes()


def delivered(desk: Desk, sink: tuple[int, object]) -> dict[str, EmailMessage]:
    port, recorder = sink
    flush_once(desk.sessions, RelayConfig(host="127.0.0.1", port=port))
    return {e.rcpt_tos[0]: message_from_bytes(e.content, policy=default)
            for e in recorder.received}  # type: ignore[attr-defined]


def cli(desk: Desk, *argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), *argv])
    assert exit_.value.code == 0
    return out.getvalue()


def test_brand_mail_is_answered_as_the_brand(branded: tuple[Desk, int], smtp_sink,  # noqa: ANN001
                                             tmp_path: Path) -> None:
    desk, port = branded
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("luis@cliente.example", ["help@globex.example"],
                        mail("help@globex.example", "Luis <luis@cliente.example>",
                             "Pedido 88", "<brand-1@cliente.example>"))
        client.sendmail("eva@other.example", ["support@acme.example"],
                        mail("support@acme.example", "Eva <eva@other.example>",
                             "Invoice question", "<desk-1@other.example>"))
    with desk.sessions() as session:
        tickets = {t.brand: t for t in session.query(Ticket)}
    gx, plain = tickets["globex"], tickets[None]
    assert gx.ref.startswith("GX-") and plain.ref.startswith("MD-")
    sent = delivered(desk, smtp_sink)
    ack = sent["luis@cliente.example"]
    assert ack["From"].addresses[0].addr_spec == "help@globex.example"
    assert ack["From"].addresses[0].display_name == "Globex Help"
    assert ack["Subject"].startswith(f"[{gx.ref}] Globex ha recibido")
    body = ack.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Hola desde Globex Help" in body and "https://help.globex.example/status/" in body
    assert body.rstrip().endswith("-- \nGlobex Corporation · help@globex.example")
    other = sent["eva@other.example"]
    assert other["From"].addresses[0].addr_spec == "support@acme.example"
    assert "Globex" not in other.get_body(("plain",)).get_content()

    # An agent's answer goes out under the ticket's brand; the customer's reply threads.
    answer = tmp_path / "answer.txt"
    answer.write_text("Su pedido sale mañana.\n")
    cli(desk, "tickets", "reply", gx.ref, "--as", "ana@example.com", "--file", str(answer))
    update = delivered(desk, smtp_sink)["luis@cliente.example"]
    assert update["From"].addresses[0].addr_spec == "help@globex.example"
    assert "Globex Help" in update["From"].addresses[0].display_name
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("luis@cliente.example", ["help@globex.example"],
                        mail("help@globex.example", "luis@cliente.example",
                             f"Re: [{gx.ref}] Pedido 88", "<brand-2@cliente.example>"))
    with desk.sessions() as session:
        assert session.query(Ticket).count() == 2

    report = json.loads(cli(desk, "report", "--brand", "globex", "--format", "json"))
    assert report["volume"]["total"] == 1


def test_a_brand_has_its_own_web_form(branded: tuple[Desk, int]) -> None:
    import requests

    from tests.integration.test_survey import serving
    from tests.integration.test_web_form import fields, token_of

    desk, _ = branded
    with serving(desk) as base:
        client = requests.Session()
        page = client.get(f"{base}/new?brand=globex")
        assert '<html lang="es">' in page.text and "Globex Help" in page.text
        sent = client.post(f"{base}/new", data=fields(token_of(page.text), brand="globex"))
    assert sent.status_code == 200 and "GX-" in sent.text
    with desk.sessions() as session:
        ticket = session.query(Ticket).one()
    assert (ticket.brand, ticket.channel) == ("globex", "web")
