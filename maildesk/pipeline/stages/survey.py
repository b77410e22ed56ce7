"""Survey answers by mail: a customer's reply to a finished ticket that is just a score.

The closure mail asks for a number from 1 to 5. A reply to a resolved or closed ticket
whose first non-quoted line is such a number ("5", "5/5", "5 - great", "Puntuación: 4")
records the score with the rest of the text as the comment, is kept on the ticket's
history, and ends there: it neither reopens the ticket nor opens a new one. Runs right
after threading, before the customer's mail is routed. Any other reply goes on as usual.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.mail.addresses import normalise_address
from maildesk.pipeline.item import Item, Outcome
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Ticket
from maildesk.tickets import operations as tickets
from maildesk.tickets import satisfaction
from maildesk.types import FINISHED_STATES, AuthorKind, Direction, ThreadMethod


def survey(desk: Desk, session: Session, item: Item) -> Item:
    ticket = _finished_ticket(session, item)
    if ticket is None:
        return item
    answer = satisfaction.parse_score(item.mail.text)
    if answer is None:
        return item
    score, comment = answer
    assert item.match is not None
    message = tickets.add_message(
        session, ticket, item.mail, raw_id=item.raw_id, direction=Direction.IN,
        kind=AuthorKind.CUSTOMER, match=replace(item.match, ticket_id=ticket.id),
        now=item.now, attachments_root=desk.attachments_root)
    satisfaction.record(desk, session, ticket, score, comment, actor=message.from_addr,
                        now=item.now, channel="mail")
    return replace(item, ticket_id=ticket.id, message_row_id=message.id,
                   outcome=Outcome("survey", ref=ticket.ref, detail=f"score {score}",
                                   final=True))


def _finished_ticket(session: Session, item: Item) -> Ticket | None:
    """The resolved or closed ticket this mail answers, if its own customer wrote it."""
    match, sender = item.match, item.mail.from_addr
    if match is None or item.automatic or sender is None or match.method == ThreadMethod.NEW:
        return None
    ticket_id = match.ticket_id or match.related_ticket_id
    ticket = session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None or ticket.status not in FINISHED_STATES:
        return None
    customer = session.get(Contact, ticket.customer_id)
    if customer is None or normalise_address(customer.email) != normalise_address(sender.email):
        return None
    return ticket
