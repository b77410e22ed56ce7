"""Agents' mail: answers, notes and #commands from their own client; tickets on behalf.

identify_author runs after `thread`: mail from an agent's address is the agent's only
when proven (agent_identity); handle_agent then settles it with a final Outcome, so the
customer stages (decide, apply, route, respond) never run on it, with one exception: a
forward opening a ticket for its original sender continues as that customer's mail,
and record_on_behalf (after `apply`) notes which agent brought it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC

from sqlalchemy.orm import Session

from maildesk.agents import collisions
from maildesk.agents.actions import Work, after_reply, check_for, confirm, execute, reject
from maildesk.agents.commands import Plan
from maildesk.agents.identity import Identity, identify
from maildesk.agents.macros import read_commands
from maildesk.agents.repair_actions import check_repair, repair_by_mail
from maildesk.agents.tokens import verify_agent_token
from maildesk.mail import authres
from maildesk.mail.addresses import is_desk_address
from maildesk.mail.language import guess_language
from maildesk.mail.parse import parse
from maildesk.mail.quotes import split_forward, strip_reply
from maildesk.pipeline.item import Item, Outcome
from maildesk.rules.schema import Agent
from maildesk.runtime.desk import Desk
from maildesk.store.models import Ticket
from maildesk.store.queries import get_or_create_contact, log_event
from maildesk.tickets import lifecycle, participants, threader
from maildesk.tickets import operations as tickets
from maildesk.tickets.merge import live_ticket
from maildesk.types import Address, AuthorKind, Direction, ParsedMail, ThreadMatch, ThreadMethod

log = logging.getLogger(__name__)
ON_BEHALF = "opened by agent"


def _agent(desk: Desk, item: Item) -> Agent | None:
    sender = item.mail.from_addr
    return desk.ruleset.agent_for(sender.email) if sender else None


def _identity(desk: Desk, item: Item, agent: Agent) -> Identity:
    sender = item.mail.from_addr
    assert sender is not None
    now = item.now if item.now.tzinfo else item.now.replace(tzinfo=UTC)
    keys = desk.keys.live(now.timestamp())
    settings = desk.config.agents
    authenticated = settings.trust_authentication_results and authres.authenticated(
        item.mail.header_all("authentication-results"), settings.trusted_authserv_ids,
        sender.domain)
    recipients = [*item.raw.envelope_to, *(a.email for a in item.mail.recipients)]
    return identify(agent, sender.email, recipients, desk.config.desk.addresses,
                    lambda ref, who, token: verify_agent_token(keys, ref, who, token),
                    authenticated)


def identify_author(desk: Desk, session: Session, item: Item) -> Item:
    """Customer, proven agent (author AGENT) or unproven agent (author stays CUSTOMER)."""
    agent = _agent(desk, item)
    if agent is None:
        return item
    identity = _identity(desk, item, agent)
    author = AuthorKind.AGENT if identity.verified else AuthorKind.CUSTOMER
    return replace(item, author=author, agent=agent.email, agent_proof=str(identity.proof))


def handle_agent(desk: Desk, session: Session, item: Item) -> Item:
    agent = _agent(desk, item) if item.agent else None
    if agent is None:
        return item
    if item.automatic:
        # An agent's out-of-office answering a notification reaches the signed address
        # too: it must never be taken for the agent's answer to the customer.
        return replace(item, outcome=Outcome(
            "ignored", detail=f"automatic mail from agent {agent.email}: {item.automatic}",
            final=True))
    identity = _identity(desk, item, agent)
    ticket = _ticket(session, identity, item.match)
    if ticket is None:
        return _without_ticket(desk, session, item, identity)
    if not identity.verified:
        return _flag(desk, session, item, ticket, identity)
    return _agent_mail(desk, session, item, ticket, identity)


def _ticket(session: Session, identity: Identity, match: ThreadMatch | None) -> Ticket | None:
    if identity.ref is not None:  # a merged ticket's signed address acts on its target
        found = tickets.find_ticket_by_ref(session, identity.ref)
        return live_ticket(session, found) if found is not None else None
    if match is not None and match.ticket_id is not None:
        return session.get(Ticket, match.ticket_id)
    return None


def _work(item: Item, identity: Identity, ticket: Ticket) -> Work:
    match = item.match if item.match and item.match.ticket_id == ticket.id else \
        ThreadMatch(ticket.id, ThreadMethod.ADDRESS_TOKEN)
    return Work(identity.agent, item.mail, item.now, item.raw_id, match)


def _agent_mail(desk: Desk, session: Session, item: Item, ticket: Ticket,
                identity: Identity) -> Item:
    """Check every command first; then apply all of them, or none and tell the agent."""
    work = _work(item, identity, ticket)
    block, plan = read_commands(desk, session, ticket, work, strip_reply(item.mail.text))
    errors = plan.errors or check_for(session, ticket, plan, block.body, work.agent.email, desk) \
        or check_repair(session, ticket, item.mail, plan)
    if errors:
        reject(desk, session, ticket, work, errors, block.lines)
        return _final(item, ticket, "agent-command-error", "; ".join(errors))
    if plan.repair is not None:  # acts on where the repair leads: agents/repair_actions.py
        ticket, applied = repair_by_mail(desk, session, ticket, work, plan, block.body)
    else:
        if not plan.note:
            _copied_by_agent(desk, session, item, ticket, identity.agent.email)
        if block.body and not plan.note:
            work = replace(work, collision=collisions.find(
                session, ticket, item.mail, work.agent.email, item.now,
                desk.config.agents.collision_window))
        applied = execute(desk, session, ticket, work, plan, block.body)
    if block.commands:
        confirm(desk, session, ticket, work, applied)
    kind = "agent-note" if plan.note else "agent-reply"
    return _final(item, ticket, kind, f"by {identity.agent.email} ({identity.proof})")


def _copied_by_agent(desk: Desk, session: Session, item: Item, ticket: Ticket,
                     agent: str) -> list[str]:
    """Whom the agent's own reply copied (To/Cc besides the desk) take part from now on,
    and so receive this answer and the next ones."""
    return participants.add_from_mail(desk, session, ticket,
                                      participants.of_mail(item.mail.to, item.mail.cc),
                                      actor=agent, now=item.now, source=participants.AGENT_CC)


def _final(item: Item, ticket: Ticket, kind: str, detail: str) -> Item:
    return replace(item, ticket_id=ticket.id,
                   outcome=Outcome(kind, ref=ticket.ref, detail=detail, final=True))


def _flag(desk: Desk, session: Session, item: Item, ticket: Ticket, identity: Identity) -> Item:
    """Keep it for a person to look at; act on nothing and send nothing."""
    reason = f"{identity.reason} ({identity.agent.email}): not acted on"
    match = item.match or ThreadMatch(ticket.id, ThreadMethod.HEADERS)
    message = tickets.add_message(session, ticket, item.mail, raw_id=item.raw_id,
                                  direction=Direction.IN, kind=AuthorKind.CUSTOMER, match=match,
                                  now=item.now, attachments_root=desk.attachments_root,
                                  flagged=reason)
    log_event(session, ticket.id, "system", "flagged", {"message": message.id,
                                                         "from": identity.agent.email},
              reason, at=item.now)
    log.warning("flagged message-id=<%s> on %s: %s", item.mail.message_id, ticket.ref, reason)
    return replace(item, author=AuthorKind.CUSTOMER, message_row_id=message.id,
                   outcome=Outcome("flagged", ref=ticket.ref, detail=reason, final=True),
                   ticket_id=ticket.id)


# -- tickets opened on a customer's behalf --------------------------------------------------

def forwarded_mail(mail: ParsedMail) -> ParsedMail | None:
    """The customer's mail inside an agent's forward: attached, or written inline."""
    for part in mail.forwarded:
        if part.from_addr is not None and "@" in part.from_addr.email:
            return part
    inline = split_forward(mail.text)
    if inline is None:
        return None
    subject, _ = threader.strip_prefixes(mail.subject)
    return replace(mail, from_addr=inline.sender, subject=inline.subject or subject,
                   text=inline.text, html=None, to=(), cc=(), in_reply_to=(), references=(),
                   thread_index=None, forwarded=())


def cc_customer(mail: ParsedMail, desk_addresses: tuple[str, ...],
                agents: set[str]) -> Address | None:
    """The first To: that is neither the desk nor an agent, when an agent copied the desk."""
    for address in mail.to:
        if not is_desk_address(address.email, desk_addresses) and address.email not in agents:
            return address
    return None


def _without_ticket(desk: Desk, session: Session, item: Item, identity: Identity) -> Item:
    """A forward or a copy opens a ticket on a customer's behalf, with the agent proven.

    Without proof (the agent's signed address, or trusted Authentication-Results) a
    forged From could open a ticket for any address, credit it to the agent and have
    the desk mail the victim the forger's text; so it is the sender's own mail, flagged.
    """
    if not identity.verified:
        return _open_flagged(desk, session, item, identity, f"{identity.reason}; acting on "
                             "a customer's behalf needs the same proof as a command")
    agents = {a for agent in desk.ruleset.agents.values() for a in agent.addresses}
    original = forwarded_mail(item.mail)
    if original is not None and original.from_addr is not None \
            and original.from_addr.email not in agents \
            and not is_desk_address(original.from_addr.email, desk.config.desk.addresses):
        note = f"{ON_BEHALF} {identity.agent.email} (forwarded from {original.from_addr.email})"
        return replace(item, parsed=original, author=AuthorKind.CUSTOMER,
                       match=ThreadMatch(None, ThreadMethod.NEW, note=note))
    customer = cc_customer(item.mail, desk.config.desk.addresses, agents)
    if customer is not None:
        return _open_from_cc(desk, session, item, identity, customer)
    return _open_flagged(desk, session, item, identity,
                         "mail from an agent that matches no ticket")


def _open(desk: Desk, session: Session, item: Item, who: Address, actor: str,
          reason: str) -> Ticket:
    organisation = threader.organisation_of(who.email,
                                            frozenset(desk.config.threading.public_domains))
    contact = get_or_create_contact(session, who.email, who.name, organisation)
    ticket = tickets.open_ticket(session, prefix=desk.config.desk.ticket_prefix,
                                 customer=contact, subject=item.mail.subject,
                                 channel=str(item.raw.source), now=item.now, actor=actor,
                                 reason=reason)
    ticket.language = contact.language or guess_language(item.mail.text) \
        or desk.config.desk.language
    tickets.set_sla(session, ticket, desk.sla, now=item.now)
    return ticket


def _open_from_cc(desk: Desk, session: Session, item: Item, identity: Identity,
                  customer: Address) -> Item:
    """The agent wrote to the customer and copied the desk: their mail is the first answer."""
    agent = identity.agent.email
    reason = f"{ON_BEHALF} {agent} (copied the desk on a mail to {customer.email})"
    ticket = _open(desk, session, item, customer, agent, reason)
    message = tickets.add_message(session, ticket, item.mail, raw_id=item.raw_id,
                                  direction=Direction.IN, kind=AuthorKind.AGENT,
                                  match=ThreadMatch(None, ThreadMethod.NEW), now=item.now,
                                  attachments_root=desk.attachments_root, agent=agent)
    tickets.assign(session, ticket, agent=agent, team=None, actor=agent, now=item.now,
                   reason="opened by this agent")
    _copied_by_agent(desk, session, item, ticket, agent)
    lifecycle.record_first_response(desk, ticket, item.now)
    tickets.set_status(session, ticket, after_reply(desk, Plan()), actor=agent, now=item.now,
                       reason="agent's first mail", sla=desk.sla)
    log_event(session, ticket.id, agent, "opened-on-behalf",
              {"customer": customer.email, "how": "cc", "proof": str(identity.proof)}, reason,
              at=item.now)
    return replace(item, ticket_id=ticket.id, message_row_id=message.id, new_ticket=True,
                   author=AuthorKind.AGENT,
                   outcome=Outcome("new-ticket", ref=ticket.ref, detail=reason, final=True))


def _open_flagged(desk: Desk, session: Session, item: Item, identity: Identity,
                  why: str) -> Item:
    """Unproven, or neither an answer, a forward nor a copy: a ticket for the sender's
    own address, flagged, with nothing sent; a person decides."""
    sender = item.mail.from_addr
    assert sender is not None
    reason = f"mail from agent address {identity.agent.email} that matches no ticket: not acted on"
    ticket = _open(desk, session, item, sender, "system", reason)
    return _flag(desk, session, item, ticket, replace(identity, reason=why))


def record_on_behalf(desk: Desk, session: Session, item: Item) -> Item:
    """After `apply`: log who opened a forwarded ticket and keep their words as a note."""
    note = item.match.note if item.match else ""
    if not (item.agent and item.new_ticket and note.startswith(ON_BEHALF)):
        return item
    ticket = session.get(Ticket, item.ticket_id)
    assert ticket is not None
    log_event(session, ticket.id, item.agent, "opened-on-behalf",
              {"customer": item.mail.from_addr.email if item.mail.from_addr else "",
               "how": "forward", "proof": item.agent_proof}, note, at=item.now)
    forward = parse(item.raw.data)
    inline = split_forward(forward.text)
    comment = inline.comment if inline is not None else strip_reply(forward.text)
    if comment.strip():
        tickets.add_message(session, ticket, replace(forward, message_id=None, attachments=(), thread_index=None),
                            raw_id=item.raw_id, direction=Direction.IN, kind=AuthorKind.NOTE,
                            match=ThreadMatch(ticket.id, ThreadMethod.NEW), now=item.now,
                            attachments_root=desk.attachments_root, agent=item.agent,
                            text=comment.strip())
    return item
