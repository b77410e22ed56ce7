"""Who the customer of a mail is: the From address, or the best stand-in."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.pipeline.item import Item
from maildesk.runtime.desk import Desk
from maildesk.store.queries import get_or_create_contact
from maildesk.tickets import threader
from maildesk.types import Address

UNKNOWN_SENDER = Address("unknown-sender@invalid", "Unknown sender")


def identify_customer(desk: Desk, session: Session, item: Item) -> Item:
    """The customer is the From address; mail without one still becomes a ticket.

    Without a usable From, the customer is Reply-To, Return-Path or the envelope sender,
    else UNKNOWN_SENDER (.invalid never resolves, RFC 2606), and no automatic answer goes
    out: nobody asked for one from a known address.
    """
    sender = item.mail.from_addr
    automatic = item.automatic
    if sender is None or "@" not in sender.email:
        sender = _stand_in_sender(item)
        automatic = automatic or "no usable From address"
    organisation = threader.organisation_of(sender.email,
                                            frozenset(desk.config.threading.public_domains))
    contact = get_or_create_contact(session, sender.email, sender.name, organisation)
    return replace(item, customer_id=contact.id, automatic=automatic)


def _stand_in_sender(item: Item) -> Address:
    mail = item.mail
    for address in (*(a.email for a in mail.reply_to), mail.return_path,
                    item.raw.envelope_from):
        if address and "@" in address:
            return Address(address.strip().lower())
    return UNKNOWN_SENDER
