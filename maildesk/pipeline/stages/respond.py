"""Answer: acknowledge a new ticket to the customer, notify the agents who own it.

A mail that joined a ticket only by quoting its message ids, from someone who took no
part in it, is logged on the ticket (event "outsider-joined") and the notification
names its real author with a warning.

No automatic answer ever goes to mail that is itself automatic (auto-replies, lists,
bounces: see loops.is_automatic), to spam, or while importing history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.kb.articles import suggest_enabled, suggest_for
from maildesk.mail import authres
from maildesk.mail.language import guess_language
from maildesk.outbox import letters as outbound
from maildesk.outbox.compose import AutoSubmitted, Thread
from maildesk.outbox.context import AckContext, ArticleSuggestion, NotifyAgentContext
from maildesk.pipeline.item import Item
from maildesk.rules.schema import Agent
from maildesk.runtime.desk import Desk
from maildesk.sla.wording import expected_first_response, format_local
from maildesk.store.models import Contact, Message, Ticket
from maildesk.store.queries import log_event
from maildesk.tickets import participants
from maildesk.tickets.links import status_link
from maildesk.types import AuthorKind, Direction, ThreadMethod

log = logging.getLogger(__name__)
SUMMARY_CHARS = 600


def respond(desk: Desk, session: Session, item: Item) -> Item:
    if item.ticket_id is None or item.author != AuthorKind.CUSTOMER:
        return item
    ticket = session.get(Ticket, item.ticket_id)
    customer = session.get(Contact, ticket.customer_id) if ticket else None
    assert ticket is not None and customer is not None
    outsider = _note_outsider(session, ticket, customer, item)
    if not desk.send_mail:
        return item
    if not ticket.language:
        ticket.language = customer.language or guess_language(item.mail.text) \
            or outbound.face(desk, ticket).language
    if item.automatic or item.spam or ticket.spam:
        return item
    thread = _answering(item, ticket)
    if item.new_ticket and ticket.ack_template != "none":
        outbound.send(desk, session, ticket, _ack(desk, session, ticket, customer, item), item.now,
                      thread)
    for letter in _notifications(desk, session, ticket, customer, item, outsider):
        outbound.send(desk, session, ticket, letter, item.now, thread)
    return item


def _answering(item: Item, ticket: Ticket) -> Thread:
    """Answers go under the customer's own mail, which is known here without a query."""
    mail = item.mail
    if mail.message_id is None:
        return Thread(topic=ticket.subject)
    references = tuple(dict.fromkeys((*mail.references[-9:], mail.message_id)))
    return Thread(in_reply_to=mail.message_id, references=references,
                  thread_index=mail.thread_index, topic=ticket.subject)


def _summary(text: str) -> str:
    text = text.strip()
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"


def _suggestions(desk: Desk, session: Session, ticket: Ticket,
                 item: Item) -> tuple[ArticleSuggestion, ...]:
    """Published articles matching the mail, for the queues configured in [kb]."""
    if not suggest_enabled(desk.config.kb, ticket.queue):
        return ()
    hits = suggest_for(session, f"{ticket.subject}\n{item.mail.text[:2000]}")
    return tuple(ArticleSuggestion(hit.title, hit.excerpt) for hit in hits)


def may_quote(item: Item, quote_unverified: bool, trust_authentication_results: bool,
              trusted_ids: Sequence[str]) -> bool:
    """Whether the acknowledgement may repeat what the sender wrote.

    An acknowledgement goes to the From address, which anyone can forge: quoting the text
    would make the desk deliver a forger's words to the victim (backscatter, phishing
    through the desk). So the words go back only when the desk's MX vouched for the From
    domain, when a proven agent brought the mail (a forward), or when the admin turned
    [desk] quote_unverified on.
    """
    if quote_unverified or (item.agent and item.agent_proof):
        return True
    sender = item.mail.from_addr
    return bool(sender and trust_authentication_results and authres.authenticated(
        item.mail.header_all("authentication-results"), trusted_ids, sender.domain))


def _ack(desk: Desk, session: Session, ticket: Ticket, customer: Contact,
         item: Item) -> outbound.Letter:
    language = ticket.language or desk.config.desk.language
    agents = desk.config.agents
    quote = may_quote(item, desk.config.desk.quote_unverified,
                      agents.trust_authentication_results, agents.trusted_authserv_ids)
    context = AckContext(
        ticket_ref=ticket.ref, subject=ticket.subject,
        customer_name=customer.name if quote else "",
        summary=_summary(item.mail.text) if quote else "",
        attachments=tuple(a.filename for a in item.mail.attachments if not a.inline)
        if quote else (),
        first_response=expected_first_response(desk.sla, ticket.sla_policy, ticket.priority,
                                               ticket.created_at, language),
        articles=_suggestions(desk, session, ticket, item),
        status_url=status_link(desk, ticket.ref, ticket.brand),
        received_at=format_local(item.now, desk.sla.calendar, language))
    # Whatever template a rule picked, an acknowledgement answers the customer's mail.
    return outbound.customer_letter(desk, ticket, customer.email,
                                    ticket.ack_template or "ack", context,
                                    auto=AutoSubmitted.REPLIED)


def agents_to_notify(desk: Desk, ticket: Ticket) -> list[str]:
    """The assignee, else the team's active members; watchers always; never a deactivated
    agent (their signed Reply-To would no longer be honoured anyway)."""
    ruleset = desk.ruleset
    if ticket.assignee:
        people = [ticket.assignee]
    elif ticket.team:
        people = [a.email for a in ruleset.members(ticket.team) if a.active]
    else:
        people = []
    wanted = dict.fromkeys([*people, *(ticket.watchers or [])])
    return [email for email in wanted if _active(ruleset.agent_for(email))]


def _active(agent: Agent | None) -> bool:
    return agent is None or agent.active


def joined_by_headers(item: Item) -> bool:
    """Threaded into an existing ticket only because it quoted the conversation's ids."""
    return bool(item.match and not item.new_ticket
                and item.match.method in (ThreadMethod.HEADERS, ThreadMethod.THREAD_INDEX))


def was_party(session: Session, ticket: Ticket, customer: Contact, sender: str,
              message_row_id: int | None) -> bool:
    """Whether `sender` took part before this mail: the customer, the assignee, a
    watcher, or a sender or recipient of earlier mail received on the ticket."""
    if sender in {customer.email, (ticket.assignee or "").lower(), *(ticket.watchers or [])}:
        return True
    if participants.is_participant(session, ticket.id, sender):
        return True
    rows = session.execute(select(Message.from_addr, Message.to_addrs, Message.cc_addrs).where(
        Message.ticket_id == ticket.id, Message.direction == Direction.IN.value,
        Message.id != (message_row_id or 0)))
    return any(sender == sent_by or sender in (to or []) or sender in (cc or [])
               for sent_by, to, cc in rows)


def _note_outsider(session: Session, ticket: Ticket, customer: Contact, item: Item) -> bool:
    """A stranger joined someone's ticket by References: threading keeps the mail (it
    may be a colleague), but the ticket says so, and so does the agents' notification."""
    sender = item.mail.from_addr.email if item.mail.from_addr else ""
    if not (sender and joined_by_headers(item)) or \
            was_party(session, ticket, customer, sender, item.message_row_id):
        return False
    reason = (f"{sender} is not a party to this ticket and joined it by "
              f"{item.match.method if item.match else 'headers'}")
    log_event(session, ticket.id, "system", "outsider-joined",
              {"from": sender, "message": item.message_row_id}, reason, at=item.now)
    log.warning("outsider message-id=<%s> on %s: %s", item.mail.message_id, ticket.ref, reason)
    return True


def _author(item: Item, customer: Contact) -> str:
    """Who wrote the mail, when it is not the ticket's customer."""
    sender = item.mail.from_addr
    if sender is None or sender.email == customer.email:
        return ""
    return f"{sender.name} <{sender.email}>" if sender.name else sender.email


def _notifications(desk: Desk, session: Session, ticket: Ticket, customer: Contact,
                   item: Item, outsider: bool) -> list[outbound.Letter]:
    def desk_ticket(ticket_id: int) -> Ticket | None:
        return session.get(Ticket, ticket_id)

    names = [a.filename for a in item.mail.attachments]
    candidates = item.match.candidates if item.match and item.new_ticket else ()
    duplicates = tuple(t.ref for t in (desk_ticket(c) for c in candidates) if t is not None)

    def context(agent: object) -> NotifyAgentContext:
        return NotifyAgentContext(
            ticket_ref=ticket.ref, subject=ticket.subject, customer_name=customer.name,
            customer_email=customer.email, text=item.mail.text.strip(),
            event="new" if item.new_ticket else "reply", priority=ticket.priority,
            queue=ticket.queue, agent_name=getattr(agent, "name", ""), attachments=tuple(names),
            author=_author(item, customer), outsider=outsider,
            possible_duplicates=duplicates)

    return outbound.agent_letters(desk, ticket, agents_to_notify(desk, ticket),
                                  "notify_agent", context)
