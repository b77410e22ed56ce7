"""Open a ticket or add the message to the matched one, with the threading evidence."""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.pipeline.item import Item, Outcome
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Message, Ticket
from maildesk.store.queries import earlier_with_message_id, log_event
from maildesk.tickets import operations as tickets
from maildesk.tickets import threader
from maildesk.types import AuthorKind, Direction

log = logging.getLogger(__name__)


def apply(desk: Desk, session: Session, item: Item) -> Item:
    """Open a ticket or add the message to the matched one, keeping unknown ids as aliases."""
    match = item.match
    assert match is not None
    new = match.ticket_id is None
    ticket = _open(desk, session, item) if new else session.get(Ticket, match.ticket_id)
    assert ticket is not None
    message = tickets.add_message(
        session, ticket, item.mail, raw_id=item.raw_id, direction=Direction.IN,
        kind=item.author, match=match, now=item.now, attachments_root=desk.attachments_root,
        agent=item.agent)
    if item.mail.has_winmail_dat:
        log_event(session, ticket.id, "system", "winmail-dat", {"message_id": message.id},
                  "the mail carries Outlook's winmail.dat (TNEF); its contents are not "
                  "unpacked: ask the sender to send attachments in plain MIME", at=item.now)
    tickets.add_aliases(session, ticket, threader.alias_ids(item.mail, item.known_ids))
    _record_threading(session, ticket, message.id, item)
    _flag_reused_id(session, ticket, message, item)
    if not new and item.author == AuthorKind.CUSTOMER:
        tickets.customer_replied(session, ticket, now=item.now, actor=message.from_addr,
                                 sla=desk.sla)
    outcome = Outcome("new-ticket" if new else "threaded", ref=ticket.ref, detail=match.note)
    return replace(item, ticket_id=ticket.id, message_row_id=message.id, new_ticket=new,
                   reopened=match.reopen, outcome=outcome)


def _record_threading(session: Session, ticket: Ticket, message_row_id: int, item: Item) -> None:
    """The evidence of the decision, for `tickets show`; the tickets it refused to pick."""
    match = item.match
    assert match is not None
    log_event(session, ticket.id, "system", "threaded",
              {"message": message_row_id, "message_id": item.mail.message_id,
               "method": str(match.method), "weak": match.weak, "evidence": match.evidence,
               "candidates": [_ref(session, c) for c in match.candidates]},
              match.note, at=item.now)
    for candidate in match.candidates:
        log_event(session, candidate, "system", "possible-duplicate", {"ticket": ticket.ref},
                  f"{ticket.ref} has the same subject and customer", at=item.now)


def _flag_reused_id(session: Session, ticket: Ticket, message: Message, item: Item) -> None:
    """A different mail with an earlier mail's Message-ID: kept, and shown for review.

    Broken gateways, scripts and some MUAs reuse ids; a forger may too. The earlier
    mail keeps the id for threading; this one is flagged on its ticket.
    """
    earlier = earlier_with_message_id(session, item.raw_id)
    if earlier is None:
        return
    earlier_ticket = session.execute(
        select(Ticket.ref).join(Message, Message.ticket_id == Ticket.id)
        .where(Message.raw_id == earlier.id)).scalars().first()
    reason = (f"reuses the Message-ID of an earlier, different mail (raw {earlier.id}"
              f"{', ticket ' + earlier_ticket if earlier_ticket else ''})")
    message.flagged = True
    message.flag_reason = "; ".join(filter(None, (message.flag_reason, reason)))
    log_event(session, ticket.id, "system", "reused-message-id",
              {"message": message.id, "message_id": earlier.message_id,
               "earlier_raw": earlier.id, "earlier_ticket": earlier_ticket}, reason,
              at=item.now)
    log.warning("raw=%s message-id=<%s> ticket=%s: reuses the Message-ID of raw=%s",
                item.raw_id, earlier.message_id, ticket.ref, earlier.id)


def _ref(session: Session, ticket_id: int) -> str:
    ticket = session.get(Ticket, ticket_id)
    return ticket.ref if ticket else str(ticket_id)


def _open(desk: Desk, session: Session, item: Item) -> Ticket:
    customer = session.get(Contact, item.customer_id)
    assert customer is not None and item.match is not None
    brand = desk.config.brand_for([*item.raw.envelope_to,
                                   *(a.email for a in item.mail.recipients)])
    ticket = tickets.open_ticket(
        session, prefix=brand and brand.ticket_prefix or desk.config.desk.ticket_prefix,
        customer=customer, subject=item.mail.subject, channel=str(item.raw.source),
        now=item.now, related_ticket_id=item.match.related_ticket_id, reason=item.match.note,
        brand=brand.name if brand else None)
    return ticket
