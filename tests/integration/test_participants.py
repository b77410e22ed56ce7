"""Participants over real SMTP, both engines: a Cc'd colleague keeps receiving the answers.

Mail comes in through the desk's own SMTP listener (smtplib on loopback) and goes out
through the outbox to an aiosmtpd sink, so every envelope the colleague would receive is
counted exactly as a mail server sees it.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from maildesk.cli.main import main
from maildesk.config.model import OutboxConfig, RelayConfig, load_config
from maildesk.intake import smtp
from maildesk.intake.receiver import Receiver
from maildesk.outbox.send import flush_once
from maildesk.runtime.desk import Desk, open_desk
from maildesk.store.models import Delivery, Outbox, Participant, Suppression
from tests.conftest import SinkRecorder, eml, write_desk
from tests.integration.daemon_helpers import LoopThread
from tests.integration.test_outbox_delivery import Sink, free_port

FAST = OutboxConfig(burst_attempts=1, burst_wait=0.05)
CARLA, JORGE = "carla@ruiz-asesores.example", "jorge@ruiz-asesores.example"
ANA = "ana@example.com"
SETTINGS = """
[smtp]
listen = "127.0.0.1:0"

[participants]
cc_on_answers = true
max_participants = 5
excluded_domains = ["lists.example"]
"""


@dataclass
class Desked:
    desk: Desk
    port: int  # the desk's SMTP listener
    relay: int  # the sink standing in for the relay
    sink: SinkRecorder

    def send(self, data: bytes, to: str = "support@acme.example",
             sender: str = "x@ruiz-asesores.example") -> None:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # SMTP speaks CRLF
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            assert client.sendmail(sender, [to], data) == {}

    def flush(self) -> list[Any]:
        """Deliver what is queued; the envelopes the relay took in this pass."""
        before = len(self.sink.received)
        later = datetime.now(UTC) + timedelta(seconds=5)
        flush_once(self.desk.sessions, RelayConfig(host="127.0.0.1", port=self.relay,
                                                   timeout=5), later, FAST)
        return self.sink.received[before:]


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[Desked]:
    config = load_config(write_desk(tmp_path / "desk", db_url, SETTINGS))
    desk, loop = open_desk(config), LoopThread()
    listener = loop.run(smtp.listen(config.smtp, Receiver(desk)))
    relay = free_port()
    with Sink(relay, SinkRecorder()) as sink:
        yield Desked(desk, listener.port, relay, sink)
    loop.run(_shut(listener))
    desk.close()
    loop.close()


async def _shut(listener: smtp.Listener) -> None:
    listener.stop_accepting()
    await listener.close_sessions()


def parsed(envelope: Any) -> EmailMessage:
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(envelope: Any) -> str:
    return str(parsed(envelope).get_body(("plain",)).get_content())


def to(envelopes: list[Any], *who: str) -> list[Any]:
    return [e for e in envelopes if sorted(e.rcpt_tos) == sorted(who)]


def agent_answer(notification: EmailMessage, text: str, mid: str, cc: str = "") -> bytes:
    """Ana answers the notification from her client, at its signed Reply-To."""
    reply_to = notification["Reply-To"].addresses[0].addr_spec
    return ("MIME-Version: 1.0\r\nFrom: =?UTF-8?Q?Ana_Garc=C3=ADa?= <ana@example.com>\r\n"
            f"To: Acme Support <{reply_to}>\r\n" + (f"Cc: {cc}\r\n" if cc else "") +
            f"Subject: Re: {notification['Subject']}\r\n"
            f"In-Reply-To: {notification['Message-ID']}\r\n"
            f"Message-ID: <{mid}@mail.gmail.com>\r\nDate: Tue, 5 Mar 2024 10:30:00 +0100\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n\r\n" + text).encode()


def show(desk: Desk, ref: str, *flags: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()  # what earlier commands printed
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), "tickets", "show", ref, *flags])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def cli(desk: Desk, *argv: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), "tickets", *argv])
    return int(exit_.value.code)


def opened(served: Desked) -> tuple[str, EmailMessage]:
    """Carla writes with Jorge (and the desk, an agent, a list) in Cc: the ticket, and
    Ana's notification."""
    served.send(eml("participants/01-customer-with-cc.eml"), sender=CARLA)
    out = served.flush()
    acks = [e for e in out if "ack" in parsed(e)["X-Maildesk-Kind"]]
    assert [e.rcpt_tos for e in acks] == [[CARLA]]  # the acknowledgement: the sender only
    assert "Cc" not in parsed(acks[0])
    notices = to(out, ANA)
    assert len(notices) == 1 and not to(out, JORGE)
    ref = parsed(acks[0])["X-Maildesk-Ticket"]
    return ref, parsed(notices[0])


def test_colleague_keeps_receiving_and_is_credited(served: Desked,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ref, notice = opened(served)
    with served.desk.sessions() as session:
        people = {p.email: p for p in session.scalars(select(Participant))}
    assert set(people) == {JORGE} and people[JORGE].name == "Jorge Ruiz"

    served.send(agent_answer(notice, "Hola Carla:\r\n\r\nReinicie el servicio F.\r\n", "a1"),
                to=notice["Reply-To"].addresses[0].addr_spec, sender=ANA)
    answers = to(served.flush(), CARLA, JORGE)
    assert len(answers) == 1  # one mail, each recipient once
    answer = parsed(answers[0])
    assert answer["To"].addresses[0].addr_spec == CARLA
    assert [a.addr_spec for a in answer["Cc"].addresses] == [JORGE]
    assert "Reinicie el servicio F." in text_of(answers[0])

    served.send(eml("participants/02-colleague-reply-all.eml"), sender=JORGE)
    out = served.flush()
    assert not to(out, CARLA) and not to(out, CARLA, JORGE)  # nothing automatic to them
    [told] = to(out, ANA)
    words = text_of(told)
    assert "Jorge Ruiz <jorge@ruiz-asesores.example> ha respondido" in words
    assert "Carla Ruiz ha respondido" not in words and "rectificativas" in words
    assert "Respuesta de Jorge Ruiz" in parsed(told)["Subject"]
    view = json.loads(show(served.desk, ref, "--json", capsys=capsys))
    from_jorge = [m for m in view["messages"] if m["from"] == JORGE]
    assert [(m["author_role"], m["from_name"]) for m in from_jorge] == [("participant",
                                                                         "Jorge Ruiz")]
    assert [m["author_role"] for m in view["messages"] if m["from"] == CARLA] == ["customer"]
    reply = [m for m in view["messages"] if m.get("delivered_to") and m["kind"] == "agent"]
    assert sorted(reply[0]["delivered_to"]) == [CARLA, JORGE]
    assert [p["email"] for p in view["participants"] if p["active"]] == [JORGE]
    text = show(served.desk, ref, capsys=capsys)
    assert "participant       Jorge Ruiz <jorge@ruiz-asesores.example>  [mail]" in text
    assert "in/participant  Jorge Ruiz <jorge@ruiz-asesores.example>" in text
    assert f"cc {JORGE}: sent" in text

    served.send(agent_answer(notice, f"#copia quitar {JORGE}\r\n\r\nSolucionado.\r\n", "a2"),
                to=notice["Reply-To"].addresses[0].addr_spec, sender=ANA)
    out = served.flush()
    assert len(to(out, CARLA)) == 1 and not [e for e in out if JORGE in e.rcpt_tos]
    assert f"participante quitado: {JORGE}" in text_of(to(out, ANA)[0])
    served.send(eml("participants/02-colleague-reply-all.eml").replace(
        b"AM0PR-jorge-0002", b"AM0PR-jorge-0003"), sender=JORGE)  # copies Carla: not re-added
    with served.desk.sessions() as session:
        assert session.scalars(select(Participant.removed_by)).all() == [ANA]


def test_bounce_of_one_copy_suppresses_that_copy_only(
        served: Desked, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, notice = opened(served)
    assert cli(served.desk, "cc", ref, "add", "Luisa Mar <luisa@mar.example>") == 0
    assert cli(served.desk, "cc", ref, "add", "avisos@lists.example") == 2  # excluded domain
    served.send(agent_answer(notice, "Hola:\r\n\r\nProbado en pruebas.\r\n", "b1",
                             cc="Pedro Gil <pedro@gil.example>"),
                to=notice["Reply-To"].addresses[0].addr_spec, sender=ANA)
    [answer] = served.flush()  # the agent's own Cc joined, and got this very answer
    assert sorted(answer.rcpt_tos) == sorted([CARLA, JORGE, "luisa@mar.example",
                                              "pedro@gil.example"])
    with served.desk.sessions() as session:
        row = session.scalars(select(Outbox).where(Outbox.kind == "update")).one()
    dsn = eml("participants/03-dsn-colleague.eml").replace(b"ORIGINAL-MESSAGE-ID",
                                                            row.message_id.encode())
    served.send(dsn, sender="")
    out = served.flush()
    [told] = to(out, ANA)
    assert f"{JORGE}: 5.1.1" in text_of(told) and CARLA in text_of(told)
    with served.desk.sessions() as session:
        states = dict(session.execute(select(Delivery.email, Delivery.state)
                                      .where(Delivery.outbox_id == row.id)).all())
        assert session.get(Outbox, row.id).state == "sent"
        assert session.scalars(select(Suppression.email)).all() == [JORGE]
    assert states == {CARLA: "sent", JORGE: "bounced", "luisa@mar.example": "sent",
                      "pedro@gil.example": "sent"}

    assert cli(served.desk, "cc", ref, "remove", "luisa@mar.example", "--as", "Ana") == 0
    answer_file = tmp_path / "a.txt"
    answer_file.write_text("Ya está resuelto.\n")
    assert cli(served.desk, "reply", ref, "--as", ANA, "--file", str(answer_file)) == 0
    [last] = served.flush()
    assert sorted(last.rcpt_tos) == sorted([CARLA, "pedro@gil.example"])
    assert JORGE not in str(parsed(last)["Cc"])
    view = json.loads(show(served.desk, ref, "--json", capsys=capsys))
    latest = [m for m in view["messages"] if m.get("deliveries")][-1]
    assert {d["address"]: d["state"] for d in latest["deliveries"]} == {
        CARLA: "sent", "pedro@gil.example": "sent", JORGE: "suppressed"}


def test_without_participants_nothing_is_copied(served: Desked) -> None:
    served.send(eml("agents/00-customer-invoice.eml"), sender="maria@cliente.example")
    out: Callable[[], list[Any]] = served.flush
    sent = out()
    assert all(len(e.rcpt_tos) == 1 for e in sent) and all("Cc" not in parsed(e) for e in sent)
