"""#merge, #move and #split from an agent's mail client, over real SMTP both ways: the
desk's listener takes the mail (smtplib), the outbox delivers to an aiosmtpd sink."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import write_desk
from daemon_helpers import LoopThread
from sqlalchemy import select

from maildesk.config.model import load_config
from maildesk.intake import smtp
from maildesk.intake.receiver import Receiver
from maildesk.runtime.desk import Desk, open_desk
from maildesk.store.models import Message, Ticket
from maildesk.tickets.merge import unmerge_problem
from maildesk.types import TicketStatus
from tests.conftest import eml
from tests.integration.test_agents_roundtrip import flush, received
from tests.integration.test_outbox_delivery import Recorder, Sink, free_port


@dataclass
class Wired:
    desk: Desk
    port: int  # the desk's SMTP listener
    sink: Recorder  # what the desk delivered
    relay: int

    def send(self, data: bytes, to: str = "support@acme.example") -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            assert client.sendmail("someone@example.net", [to], data) == {}

    def delivered(self, to: str) -> list[EmailMessage]:
        flush(self.desk, self.relay)
        return [received(e) for e in self.sink.received if e.rcpt_tos == [to]]


@pytest.fixture
def wired(tmp_path: Path, db_url: str) -> Iterator[Wired]:
    loop = LoopThread()
    config = load_config(write_desk(tmp_path / "desk", db_url,
                                    '[smtp]\nlisten = "127.0.0.1:0"\n'))
    desk = open_desk(config)
    listener = loop.run(smtp.listen(config.smtp, Receiver(desk)))
    relay = free_port()
    with Sink(relay, Recorder()) as sink:
        yield Wired(desk, listener.port, sink, relay)
    loop.run(_shut(listener))
    desk.close()
    loop.close()


async def _shut(listener: smtp.Listener) -> None:
    listener.stop_accepting()
    await listener.close_sessions()


def notification(wired: Wired, answering: str) -> EmailMessage:
    """Ana's notification of the customer mail `answering`."""
    found = [m for m in wired.delivered("ana@example.com") if m["In-Reply-To"] == answering]
    assert found, f"no notification answering {answering}"
    return found[-1]


def agent_reply(notice: EmailMessage, commands: str, serial: int) -> tuple[bytes, str]:
    """Ana answers a notification from her client, commands on top, history quoted."""
    reply_to = notice["Reply-To"].addresses[0].addr_spec
    references = f"{notice['References'] or ''} {notice['Message-ID']}".strip()
    return (
        "MIME-Version: 1.0\r\n"
        "From: =?UTF-8?Q?Ana_Garc=C3=ADa?= <ana@example.com>\r\n"
        f"To: Acme Support <{reply_to}>\r\n"
        f"Subject: Re: {notice['Subject']}\r\n"
        f"In-Reply-To: {notice['Message-ID']}\r\nReferences: {references}\r\n"
        f"Message-ID: <ana-repair-{serial}@mail.example.com>\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n\r\n"
        f"{commands}\r\n\r\nOn Mon, 4 Mar 2024, Acme Support wrote:\r\n> earlier mail\r\n"
    ).encode(), reply_to


def ticket_of(desk: Desk, message_id: str) -> Ticket:
    with desk.sessions() as session:
        return session.execute(select(Ticket).join(Message, Message.ticket_id == Ticket.id)
                               .where(Message.message_id == message_id)).scalar_one()


def text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


MARIA_1 = "CAOrig-maria-0001@mail.cliente.example"
MARIA_2 = "CAOrig-maria-0002@mail.cliente.example"


def test_merge_by_mail_then_the_customer_reply_lands_in_the_target(wired: Wired) -> None:
    wired.send(eml("agents/00-customer-invoice.eml"))
    wired.send(eml("repair/01-maria-refund-followup.eml"))
    old, new = ticket_of(wired.desk, MARIA_1), ticket_of(wired.desk, MARIA_2)
    to_maria = len(wired.delivered("maria@cliente.example"))
    reply, address = agent_reply(notification(wired, f"<{MARIA_1}>"),
                                 f"#fusionar {new.ref}", 1)
    wired.send(reply, to=address)

    merged = ticket_of(wired.desk, MARIA_1)
    assert merged.id == new.id  # the old ticket's mail now lives in the target
    with wired.desk.sessions() as session:
        source = session.get(Ticket, old.id)
        assert source.status == TicketStatus.MERGED and source.merged_into_id == new.id
        assert unmerge_problem(session, source) is None  # a bare #merge can be undone
    confirms = [m for m in wired.delivered("ana@example.com") if "ana-repair-1" in
                (m["In-Reply-To"] or "")]
    assert len(confirms) == 1 and f"fusionada en {new.ref}" in text(confirms[0])
    assert len(wired.delivered("maria@cliente.example")) == to_maria  # no customer mail

    wired.send(eml("repair/04-maria-answers-old-thread.eml"))
    assert ticket_of(wired.desk, "CAOrig-maria-0003@mail.cliente.example").id == new.id

    # Answering the old ticket's notification again acts on the ticket it went into.
    reply, address = agent_reply(notification(wired, f"<{MARIA_1}>"), "#pendiente", 5)
    wired.send(reply, to=address)
    with wired.desk.sessions() as session:
        assert session.get(Ticket, new.id).status == TicketStatus.PENDING
        assert session.get(Ticket, old.id).status == TicketStatus.MERGED


def test_move_split_and_a_refused_repair_by_mail(wired: Wired) -> None:
    wired.send(eml("agents/00-customer-invoice.eml"))
    wired.send(eml("repair/01-maria-refund-followup.eml"))
    wired.send(eml("repair/02-pedro-security-in-thread.eml"))
    first, other = ticket_of(wired.desk, MARIA_1), ticket_of(wired.desk, MARIA_2)
    pedro = "CAPedro-0001@mail.cliente.example"
    assert ticket_of(wired.desk, pedro).id == first.id

    # A reference that does not exist: nothing applied, Ana is told why (in Spanish).
    reply, address = agent_reply(notification(wired, f"<{pedro}>"), "#mover MD-999", 2)
    wired.send(reply, to=address)
    assert ticket_of(wired.desk, pedro).id == first.id
    errors = [m for m in wired.delivered("ana@example.com")
              if "ana-repair-2" in (m["In-Reply-To"] or "")]
    assert len(errors) == 1 and "no existe el ticket MD-999" in text(errors[0])

    reply, address = agent_reply(notification(wired, f"<{pedro}>"), f"#move {other.ref}", 3)
    wired.send(reply, to=address)
    assert ticket_of(wired.desk, pedro).id == other.id

    # Pedro's next mail follows his first one into the other ticket; split it off there.
    wired.send(eml("repair/03-pedro-more.eml"))
    more = "CAPedro-0002@mail.cliente.example"
    assert ticket_of(wired.desk, more).id == other.id
    to_customers = len(wired.delivered("maria@cliente.example")) + \
        len(wired.delivered("pedro@cliente.example"))
    reply, address = agent_reply(notification(wired, f"<{more}>"), "#split\n#prioridad P2", 4)
    wired.send(reply, to=address)
    split = ticket_of(wired.desk, more)
    assert split.id not in (first.id, other.id) and split.related_ticket_id == other.id
    assert split.priority == "P2"  # the other commands act on the new ticket
    with wired.desk.sessions() as session:
        assert session.get(Ticket, split.id).customer_id != other.customer_id
    assert len(wired.delivered("maria@cliente.example")) + \
        len(wired.delivered("pedro@cliente.example")) == to_customers
