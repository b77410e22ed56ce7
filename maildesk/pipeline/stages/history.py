"""Imported history: the desk's own past answers become outgoing messages of their ticket.

Live mail from the desk's addresses is the desk's own mail coming back and is dropped
(`screen`); live mail from an agent needs proof before it acts (`agent`). In imported
history (`maildesk import`) both are what the desk once answered: the answer is kept on
the ticket it replies to, as outgoing mail, and counts as the first response. Nothing
runs as a command and nothing is sent. A desk mail that replies to no known ticket
(the desk wrote first) opens a ticket for the person it was written to.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.mail.addresses import is_desk_address
from maildesk.pipeline.item import Item, Outcome
from maildesk.pipeline.stages.thread import thread
from maildesk.runtime.desk import Desk
from maildesk.store.models import Ticket
from maildesk.store.queries import get_or_create_contact, log_event
from maildesk.tickets import lifecycle, threader
from maildesk.tickets import operations as tickets
from maildesk.types import AuthorKind, Direction, Source

log = logging.getLogger(__name__)


def past_answer(desk: Desk, session: Session, item: Item) -> Item:
    """In imported mail, store the desk's and the agents' mail as the desk's answers."""
    if item.raw.source != Source.IMPORT:
        return item
    author = _desk_author(desk, item)
    if author is None:
        return item
    item = thread(desk, session, item)
    assert item.match is not None
    ticket = (session.get(Ticket, item.match.ticket_id) if item.match.ticket_id is not None
              else _open_for_recipient(desk, session, item))
    if ticket is None:
        return replace(item, outcome=Outcome("ignored", final=True,
                                             detail="the desk's own mail, to nobody outside"))
    agent = desk.ruleset.agent_for(author)
    message = tickets.add_message(
        session, ticket, item.mail, raw_id=item.raw_id, direction=Direction.OUT,
        kind=AuthorKind.AGENT, match=item.match, now=item.now,
        attachments_root=desk.attachments_root, agent=agent.email if agent else None)
    tickets.add_aliases(session, ticket, threader.alias_ids(item.mail, item.known_ids))
    lifecycle.record_first_response(desk, ticket, item.now)
    log_event(session, ticket.id, agent.email if agent else author, "past-answer",
              {"message": message.id, "message_id": item.mail.message_id},
              "the desk's answer, imported from history", at=item.now)
    return replace(item, ticket_id=ticket.id, message_row_id=message.id,
                   outcome=Outcome("past-answer", ref=ticket.ref, final=True))


def _desk_author(desk: Desk, item: Item) -> str | None:
    """The From address when it is one of the desk's or an agent's, else None."""
    sender = item.mail.from_addr
    if sender is None:
        return None
    if is_desk_address(sender.email, desk.config.desk.addresses) or \
            desk.ruleset.agent_for(sender.email) is not None:
        return sender.email
    return None


def _open_for_recipient(desk: Desk, session: Session, item: Item) -> Ticket | None:
    """The desk wrote first: a ticket for the first recipient who is neither desk nor agent."""
    addresses = desk.config.desk.addresses
    for recipient in item.mail.recipients:
        email = recipient.email
        if "@" in email and not is_desk_address(email, addresses) and \
                desk.ruleset.agent_for(email) is None:
            organisation = threader.organisation_of(
                email, frozenset(desk.config.threading.public_domains))
            customer = get_or_create_contact(session, email, recipient.name, organisation)
            return tickets.open_ticket(
                session, prefix=desk.config.desk.ticket_prefix, customer=customer,
                subject=item.mail.subject, channel=str(item.raw.source), now=item.now,
                reason="the desk wrote first (imported history)")
    return None
