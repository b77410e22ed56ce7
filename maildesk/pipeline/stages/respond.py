"""Answer: acknowledge a new ticket to the customer, notify the agents who own it.

No automatic answer ever goes to mail that is itself automatic (auto-replies, lists,
bounces: see loops.is_automatic), to spam, or while importing history.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from maildesk.kb.articles import suggest_enabled, suggest_for
from maildesk.mail.language import guess_language
from maildesk.outbox import letters as outbound
from maildesk.outbox.compose import AutoSubmitted, Thread
from maildesk.outbox.context import AckContext, ArticleSuggestion, NotifyAgentContext
from maildesk.pipeline.item import Item
from maildesk.runtime.desk import Desk
from maildesk.sla.model import expected_first_response
from maildesk.store.models import Contact, Ticket
from maildesk.tickets.links import status_link
from maildesk.types import AuthorKind

SUMMARY_CHARS = 600


def respond(desk: Desk, session: Session, item: Item) -> Item:
    if item.ticket_id is None or item.author != AuthorKind.CUSTOMER or not desk.send_mail:
        return item
    ticket = session.get(Ticket, item.ticket_id)
    customer = session.get(Contact, ticket.customer_id) if ticket else None
    assert ticket is not None and customer is not None
    if not ticket.language:
        ticket.language = customer.language or guess_language(item.mail.text) \
            or desk.config.desk.language
    if item.automatic or item.spam or ticket.spam:
        return item
    thread = _answering(item, ticket)
    if item.new_ticket and ticket.ack_template != "none":
        outbound.send(desk, session, ticket, _ack(desk, session, ticket, customer, item), item.now,
                      thread)
    for letter in _notifications(desk, session, ticket, customer, item):
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


def _ack(desk: Desk, session: Session, ticket: Ticket, customer: Contact,
         item: Item) -> outbound.Letter:
    language = ticket.language or desk.config.desk.language
    context = AckContext(
        ticket_ref=ticket.ref, subject=ticket.subject, customer_name=customer.name,
        summary=_summary(item.mail.text),
        attachments=tuple(a.filename for a in item.mail.attachments if not a.inline),
        first_response=expected_first_response(desk.sla, ticket.sla_policy, ticket.priority,
                                               ticket.created_at, language),
        articles=_suggestions(desk, session, ticket, item),
        status_url=status_link(desk.config, ticket.ref))
    # Whatever template a rule picked, an acknowledgement answers the customer's mail.
    return outbound.customer_letter(desk, ticket, customer.email,
                                    ticket.ack_template or "ack", context,
                                    auto=AutoSubmitted.REPLIED)


def agents_to_notify(desk: Desk, ticket: Ticket) -> list[str]:
    """The assignee, else the team's active members; watchers always."""
    ruleset = desk.ruleset
    if ticket.assignee:
        people = [ticket.assignee]
    elif ticket.team:
        people = [a.email for a in ruleset.members(ticket.team) if a.active]
    else:
        people = []
    return list(dict.fromkeys([*people, *(ticket.watchers or [])]))


def _notifications(desk: Desk, session: Session, ticket: Ticket, customer: Contact,
                   item: Item) -> list[outbound.Letter]:
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
            possible_duplicates=duplicates)

    return outbound.agent_letters(desk, ticket, agents_to_notify(desk, ticket),
                                  "notify_agent", context)
