"""The core stages: parse, screen, thread, identify the customer, decide, apply, respond."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.mail import loops
from maildesk.mail.parse import parse
from maildesk.pipeline.item import Item, Outcome
from maildesk.rules import RuleContext, evaluate
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Ticket
from maildesk.store.queries import get_or_create_contact, log_event, make_lookups
from maildesk.tickets import operations as tickets
from maildesk.tickets import threader
from maildesk.types import Address, AuthorKind, Direction

UNKNOWN_SENDER = Address("unknown-sender@invalid", "Unknown sender")


def parse_mail(desk: Desk, session: Session, item: Item) -> Item:
    return replace(item, parsed=parse(item.raw.data))


def screen(desk: Desk, session: Session, item: Item) -> Item:
    """Drop the desk's own mail coming back; note why no automatic answer may go out."""
    if loops.is_own_mail(item.mail, desk.config.desk.addresses):
        return replace(item, outcome=Outcome("ignored", detail="the desk's own mail",
                                             final=True))
    return replace(item, automatic=loops.is_automatic(item.mail))


def thread(desk: Desk, session: Session, item: Item) -> Item:
    """Find the ticket; the referenced ids looked up here also decide the aliases later."""
    lookups = make_lookups(session)
    referenced = threader.candidate_ids(item.mail)
    known = dict(lookups.by_message_ids(referenced)) if referenced else {}
    lookups = replace(lookups, by_message_ids=lambda ids: {i: known[i] for i in ids if i in known})
    match = threader.find_ticket(item.mail, item.raw.envelope_to, item.now,
                                 desk.thread_policy(), lookups)
    return replace(item, match=match, known_ids=known)


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


def decide(desk: Desk, session: Session, item: Item) -> Item:
    """Evaluate the admins' rules against the mail."""
    customer = session.get(Contact, item.customer_id)
    assert customer is not None and item.match is not None
    context = RuleContext(
        now=item.now, timezone=desk.config.desk.timezone,
        desk_addresses=desk.config.desk.addresses,
        customer_organisation=customer.organisation, customer_vip=customer.vip,
        is_follow_up=item.match.ticket_id is not None,
        in_business_hours=desk.sla.calendar.is_business_time)
    decision = evaluate(desk.ruleset, item.mail, context)
    return replace(item, decision=replace(decision, rules_version=desk.version))


def apply(desk: Desk, session: Session, item: Item) -> Item:
    """Open a ticket or add the message to the matched one, keeping unknown ids as aliases."""
    match = item.match
    assert match is not None
    new = match.ticket_id is None
    ticket = _open(desk, session, item) if new else session.get(Ticket, match.ticket_id)
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


def _ref(session: Session, ticket_id: int) -> str:
    ticket = session.get(Ticket, ticket_id)
    return ticket.ref if ticket else str(ticket_id)


def _open(desk: Desk, session: Session, item: Item) -> Ticket:
    customer = session.get(Contact, item.customer_id)
    assert customer is not None and item.match is not None
    ticket = tickets.open_ticket(
        session, prefix=desk.config.desk.ticket_prefix, customer=customer,
        subject=item.mail.subject, channel=str(item.raw.source), now=item.now,
        related_ticket_id=item.match.related_ticket_id, reason=item.match.note)
    return ticket
