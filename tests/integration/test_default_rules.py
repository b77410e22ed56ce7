"""The shipped rules on five everyday mails: each gets an owner who is told, and the
outages (English and Spanish) are high-priority incidents. Both engines."""

from __future__ import annotations

from sqlalchemy import select

from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.models import Outbox, Ticket
from maildesk.types import RawMail, Source
from tests.conftest import eml

AGENTS = {"l1": "ana@example.com", "l2": "bruno@example.com"}
FIVE = [  # mail, type, priority, queue, team
    ("default-01-en-urgent-blocked.eml", "incident", "P1", "infrastructure", "l2"),
    ("default-02-es-web-caida.eml", "incident", "P1", "infrastructure", "l2"),
    ("default-03-en-question-download.eml", "question", "P3", "general", "l1"),
    ("default-04-es-factura.eml", "question", "P3", "billing", "l1"),
    ("default-05-en-new-account.eml", "request", "P3", "requests", "l1"),
]


def test_every_mail_gets_an_owner_who_is_told(desk: Desk) -> None:
    for name, kind, priority, queue, team in FIVE:
        ref = accept(desk, RawMail(eml(f"rules/{name}"), Source.SMTP)).outcome.ref
        with desk.sessions() as session:
            ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
            assert (ticket.type, ticket.priority, ticket.queue, ticket.team) == (
                kind, priority, queue, team), name
            assert ticket.assignee == AGENTS[team], name
            told = session.execute(select(Outbox.to_addr).where(
                Outbox.ticket_id == ticket.id, Outbox.kind == "notify_agent")).scalars().all()
            assert told == [AGENTS[team]], name
