"""Telling an agent that mail on their ticket did not reach some of its recipients.

A bounce of an answer with copies suppresses only the address that bounced; the agent
who wrote the answer (for the desk's automatic mail with copies, the assignee) learns
by mail who did not get it and who did, so they can reach that person another way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.outbox import letters as outbound
from maildesk.outbox.context import DeliveryFailedContext
from maildesk.runtime.desk import Desk
from maildesk.store.models import Delivery, Message, Outbox, Ticket
from maildesk.types import OutboxState

BOUNCED = OutboxState.BOUNCED.value


def sender_of(session: Session, ticket: Ticket, row: Outbox,
              records: Sequence[Delivery]) -> tuple[str | None, str | None]:
    """(the agent to tell, the Message-ID of the mail) for outbox `row`."""
    message = session.scalars(select(Message).where(Message.outbox_id == row.id)
                              .limit(1)).first()
    agent = message.agent if message is not None else None
    if agent is None and len(records) > 1:
        agent = ticket.assignee
    return agent, row.message_id


def tell_sender(desk: Desk, session: Session, ticket: Ticket, row: Outbox,
                records: Sequence[Delivery], now: datetime) -> bool:
    """Mail the agent the recipients that bounced; False when there is nobody to tell."""
    failed = tuple(f"{r.email}: {r.error}" if r.error else r.email
                   for r in records if r.state == BOUNCED)
    agent, message_id = sender_of(session, ticket, row, records)
    if not failed or agent is None or desk.ruleset.agent_for(agent) is None:
        return False
    delivered = tuple(r.email for r in records if r.state == OutboxState.SENT.value)
    thread = outbound.conversation(session, ticket, reply_to=message_id)

    def context(person: object) -> DeliveryFailedContext:
        return DeliveryFailedContext(ticket.ref, ticket.subject, failed, delivered,
                                     getattr(person, "name", ""))

    for letter in outbound.agent_letters(desk, ticket, [agent], "delivery_failed", context):
        outbound.send(desk, session, ticket, letter, now, thread=thread)
    return True
