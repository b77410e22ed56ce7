"""Answer: acknowledge a new ticket to the customer, notify the agents who own it.

No automatic answer ever goes to mail that is itself automatic (auto-replies, lists,
bounces: see loops.is_automatic), to spam, or while importing history.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from maildesk.sla.model import expected_first_response, format_local
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
    for letter in _notifications(desk, ticket, customer, item):
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
        status_url=status_link(desk.config, ticket.ref),
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


def _notifications(desk: Desk, ticket: Ticket, customer: Contact,
                   item: Item) -> list[outbound.Letter]:
    names = [a.filename for a in item.mail.attachments]

    def context(agent: object) -> NotifyAgentContext:
        return NotifyAgentContext(
            ticket_ref=ticket.ref, subject=ticket.subject, customer_name=customer.name,
            customer_email=customer.email, text=item.mail.text.strip(),
            event="new" if item.new_ticket else "reply", priority=ticket.priority,
            queue=ticket.queue, agent_name=getattr(agent, "name", ""), attachments=tuple(names))

    return outbound.agent_letters(desk, ticket, agents_to_notify(desk, ticket),
                                  "notify_agent", context)
