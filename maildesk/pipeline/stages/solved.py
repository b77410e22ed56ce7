"""A customer who answers "this solved it" / "resuelto" has the ticket resolved.

Only the opening of the reply counts (kb.solved_reply), so a question or a negation
never resolves anything; the customer can still reopen by writing again. Only the
ticket's own customer can: anyone may join a conversation by quoting its ids.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from maildesk.kb.articles import solved_reply
from maildesk.pipeline.item import Item
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Ticket
from maildesk.tickets.lifecycle import change_status
from maildesk.types import AuthorKind, TicketStatus


def solved(desk: Desk, session: Session, item: Item) -> Item:
    if (item.new_ticket or item.ticket_id is None or item.author != AuthorKind.CUSTOMER
            or item.automatic or not solved_reply(item.mail.text)):
        return item
    ticket = session.get(Ticket, item.ticket_id)
    assert ticket is not None
    customer = session.get(Contact, ticket.customer_id)
    sender = item.mail.from_addr.email.lower() if item.mail.from_addr else ""
    if customer is None or customer.email.lower() != sender:
        return item
    change_status(desk, session, ticket, TicketStatus.RESOLVED, actor=item.mail.from_addr.email
                  if item.mail.from_addr else "customer", now=item.now,
                  reason="the customer says it is solved", notify=False)
    return item
