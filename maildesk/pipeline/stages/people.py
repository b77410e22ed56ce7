"""Participants from the customer side's mail: the people it copies keep receiving answers.

Runs after `apply`, on mail credited to the customer side only (never an agent's, never
automatic mail or spam). The sender becomes a participant too when they are not the
customer, unless they joined by quoting the conversation's ids without having taken part
(an outsider: `respond` warns the agents about them instead).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from maildesk.pipeline.item import Item
from maildesk.pipeline.stages.respond import joined_by_headers, was_party
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Ticket
from maildesk.tickets import participants as people
from maildesk.types import AuthorKind


def participants(desk: Desk, session: Session, item: Item) -> Item:
    if item.ticket_id is None or item.author != AuthorKind.CUSTOMER or item.automatic \
            or item.spam:
        return item
    ticket = session.get(Ticket, item.ticket_id)
    customer = session.get(Contact, ticket.customer_id) if ticket else None
    if ticket is None or customer is None or ticket.spam:
        return item
    mail = item.mail
    sender = mail.from_addr
    if sender is not None and sender.email != customer.email and joined_by_headers(item) \
            and not was_party(session, ticket, customer, sender.email, item.message_row_id):
        return item  # a stranger's mail names nobody the desk should start copying
    actor = sender.email if sender else "system"
    people.add_from_mail(desk, session, ticket, people.of_mail(mail.to, mail.cc, sender),
                         actor=actor, now=item.now)
    return item
