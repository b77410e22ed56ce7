"""What an agent does to a ticket: answer, note, status, assignment, tags, #kb.

One code path for both ways an agent works: a mail from their client (stages/agent.py)
and the admin CLI (`maildesk tickets reply|note|close|assign`). The plan is checked in
full before this module runs (agent_commands.interpret), so here every step applies.

The agent's own mail is stored *internal*: the customer receives the desk's `update`
mail instead (sent from the desk address under the agent's name), which is the public
message that later mail threads to. Only the text below the commands, without quoted
history, ever reaches a template, and only through UpdateContext.agent_text; a note's
text is never passed to any customer template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.agents import collisions, timelog
from maildesk.agents.collisions import Collision
from maildesk.agents.commands import Plan, describe
from maildesk.agents.wording import translate_all
from maildesk.kb import articles as kb
from maildesk.outbox import letters as outbound
from maildesk.outbox.compose import Thread
from maildesk.outbox.context import (
    CollisionContext,
    CommandErrorContext,
    ConfirmContext,
    UpdateContext,
)
from maildesk.rules.schema import Agent
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Message, Ticket
from maildesk.store.queries import log_event
from maildesk.tickets import lifecycle, participants
from maildesk.tickets import operations as tickets
from maildesk.types import (
    Address,
    AuthorKind,
    Direction,
    ParsedMail,
    ThreadMatch,
    ThreadMethod,
    TicketStatus,
)

ADMIN = Agent(name="", email="admin")  # the CLI acting without --as


@dataclass(frozen=True, slots=True)
class Work:
    """One agent action on one ticket: who, the mail (real or made up by the CLI), when."""

    agent: Agent
    mail: ParsedMail
    now: datetime
    raw_id: int | None = None
    match: ThreadMatch = ThreadMatch(None, ThreadMethod.HEADERS)
    collision: Collision | None = None  # another agent answered first: hold this answer
    source: str = "mail"  # or "cli": where a #time entry came from


def cli_mail(agent: Agent, ticket: Ticket, text: str) -> ParsedMail:
    """A stand-in for the mail an agent would have written, for CLI actions."""
    return ParsedMail(message_id=None, subject=ticket.subject,
                      from_addr=Address(agent.email, agent.name), text=text)


def from_name(desk: Desk, agent: Agent, ticket: Ticket | None = None) -> str:
    """"Ana García — Acme Support": the customer sees who answered, from the desk (or
    the ticket's brand)."""
    name = outbound.face(desk, ticket).name if ticket is not None else desk.config.desk.name
    return f"{agent.name} — {name}" if agent.name else name


@dataclass(frozen=True, slots=True)
class Applied:
    """What perform() did: the lines done, or why nothing was applied."""

    done: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # the plan or its text is wrong
    conflicts: tuple[str, ...] = ()  # right, but the ticket's state does not allow it

    @property
    def applied(self) -> bool:
        return not self.errors and not self.conflicts


def perform(desk: Desk, session: Session, ticket: Ticket, agent: Agent, plan: Plan,
            body: str, *, source: str) -> Applied:
    """Check then execute a plan made outside mail: the one path of the CLI and the API.

    Mail goes through stages/agent.py, which calls the same checks and execute() and
    answers the agent by mail. `source` ("cli", "api") is recorded with time entries.
    """
    if plan.errors:
        return Applied(errors=plan.errors)
    conflicts = check_for(session, ticket, plan, body, agent.email, desk)
    if conflicts:
        return Applied(conflicts=conflicts)
    work = Work(agent, cli_mail(agent, ticket, body), desk.clock(), source=source)
    return Applied(done=execute(desk, session, ticket, work, plan, body))


def after_reply(desk: Desk, plan: Plan) -> TicketStatus:
    """An explicit status command wins; else [agents] after_reply (open or pending)."""
    return plan.status or TicketStatus(desk.config.agents.status_after_reply)


def check(session: Session, ticket: Ticket, plan: Plan, body: str,
          desk: Desk | None = None) -> tuple[str, ...]:
    """What only the database can tell: #kb without text needs an earlier answer; #cc
    adds only people who may take part and removes only those who do."""
    errors = []
    if plan.kb and not body.strip() and kb.last_agent_answer(session, ticket) is None:
        errors.append("#kb: no answer to document yet (write it below the commands)")
    customer = session.get(Contact, ticket.customer_id)
    for who in plan.cc_add:
        why = desk and participants.refusal(who.email, desk, customer.email if customer else "")
        if why:
            errors.append(f"#cc add {who.email}: {why}")
    for email in plan.cc_remove:
        if not participants.is_participant(session, ticket.id, email):
            errors.append(f"#cc remove {email}: {email} is not a participant")
    return tuple(errors)


def check_for(session: Session, ticket: Ticket, plan: Plan, body: str,
              agent: str, desk: Desk | None = None) -> tuple[str, ...]:
    """check(), and #send/#drop need a held answer of this agent's."""
    return check(session, ticket, plan, body, desk) or \
        collisions.check_release(session, ticket, agent, plan.release)


def execute(desk: Desk, session: Session, ticket: Ticket, work: Work, plan: Plan,
            body: str) -> tuple[str, ...]:
    """Apply a checked plan and, unless it is a note, send `body` to the customer."""
    actor = work.agent.email
    _store(session, desk, ticket, work, body, plan)
    _reassign(desk, session, ticket, plan, actor, work.now)
    _classify(desk, session, ticket, plan, actor, work.now)
    _people(desk, session, ticket, plan, actor, work.now)
    done = list(describe(plan, {a.email: a.name for a in desk.ruleset.agents.values()}))
    done[:0] = _answer_faster(session, ticket, work, plan)
    if body and not plan.note:
        _answer(desk, session, ticket, work, body, plan)
        done.insert(0, held_line(work.collision, work.now) if work.collision
                    else "answer queued for the customer")
    elif plan.status is not None:
        lifecycle.change_status(desk, session, ticket, plan.status, actor=actor, now=work.now,
                                reason="agent command", agent_name=work.agent.name)
    if plan.escalate and not tickets.escalate(session, ticket, desk.ruleset, actor=actor,
                                              now=work.now, reason="escalated by agent"):
        done[done.index("escalated to the next tier")] = "not escalated: already at the top tier"
    return tuple(done)


def _answer_faster(session: Session, ticket: Ticket, work: Work, plan: Plan) -> list[str]:
    """#time, #macro and #send/#drop: the entries and events they leave."""
    actor = work.agent.email
    if plan.minutes:
        timelog.record(session, ticket, actor, plan.minutes, work.now, work.source)
    if plan.macros:
        log_event(session, ticket.id, actor, "macro", {"names": list(plan.macros)}, at=work.now)
    lines = [f"macro used: {name}" for name in plan.macros]
    if plan.release:
        lines.extend(collisions.release(session, ticket, actor, plan.release, work.now))
    return lines


def held_line(collision: Collision, now: datetime) -> str:
    return (f"answer held: {collision.agent} answered this ticket "
            f"{collisions.ago(collision.at, now)} ago; reply #send or #drop")


def _store(session: Session, desk: Desk, ticket: Ticket, work: Work, body: str,
           plan: Plan) -> Message | None:
    """Keep what the agent wrote (internal), draft #kb from it, log the action."""
    message = None
    if work.raw_id is not None or body.strip():  # a CLI command without text: event only
        message = tickets.add_message(
            session, ticket, work.mail, raw_id=work.raw_id, direction=Direction.IN,
            kind=AuthorKind.NOTE if plan.note else AuthorKind.AGENT, match=work.match,
            now=work.now, attachments_root=desk.attachments_root, agent=work.agent.email,
            text=body)
        message.internal = True  # the customer gets the desk's update mail, not this one
    if plan.kb:
        source = message if body.strip() else kb.last_agent_answer(session, ticket)
        if source is not None:
            kb.draft_from_ticket(session, ticket, source, work.now,
                                 desk.config.desk.language)
    log_event(session, ticket.id, work.agent.email, "note" if plan.note else "agent-mail",
              {"message_id": work.mail.message_id, "commands": list(describe(plan))}, at=work.now)
    return message


def _reassign(desk: Desk, session: Session, ticket: Ticket, plan: Plan, actor: str,
              now: datetime) -> None:
    if plan.agent:
        tickets.assign(session, ticket, agent=plan.agent, team=None, actor=actor, now=now,
                       reason="assigned by agent")
    if plan.team:
        team = desk.ruleset.team(plan.team)
        tickets.assign(session, ticket, agent=None, team=plan.team, actor=actor, now=now,
                       reason="handed to the team by agent", tier=team.tier if team else None)


def _classify(desk: Desk, session: Session, ticket: Ticket, plan: Plan, actor: str,
              now: datetime) -> None:
    if plan.priority:
        tickets.change_priority(session, ticket, plan.priority, desk.sla, actor=actor, now=now,
                                reason="agent command")
    if plan.type and plan.type != ticket.type:
        log_event(session, ticket.id, actor, "type", {"from": ticket.type, "to": plan.type},
                  at=now)
        ticket.type = str(plan.type)
    new_tags = sorted(set(plan.tags) - set(ticket.tags or []))
    gone = sorted(set(plan.untag) & set(ticket.tags or []))
    if new_tags or gone:
        ticket.tags = sorted((set(ticket.tags or []) | set(new_tags)) - set(gone))
        ticket.updated_at = now
        change = {"added": new_tags, **({"removed": gone} if gone else {})}
        log_event(session, ticket.id, actor, "tags", change, at=now)


def _people(desk: Desk, session: Session, ticket: Ticket, plan: Plan, actor: str,
            now: datetime) -> None:
    """#cc add / #cc remove, before the answer, so that it already goes to the new list."""
    for who in plan.cc_add:
        participants.add(desk, session, ticket, who, actor=actor, source=participants.BY_AGENT,
                         now=now, reason="added by agent")
    for email in plan.cc_remove:
        participants.remove(session, ticket, email, actor=actor, now=now)


def _answer(desk: Desk, session: Session, ticket: Ticket, work: Work, body: str,
            plan: Plan) -> None:
    """The customer's mail, then the status: closing sends its own closure mail after."""
    customer = session.get(Contact, ticket.customer_id)
    assert customer is not None
    old, target = TicketStatus(ticket.status), after_reply(desk, plan)
    notice = "" if target == TicketStatus.CLOSED else lifecycle.customer_notice(old, target)
    context = UpdateContext(ticket_ref=ticket.ref, subject=ticket.subject, agent_text=body,
                            agent_name=work.agent.name or outbound.face(desk, ticket).name,
                            customer_name=customer.name, status=notice)
    files = tuple(a for a in work.mail.attachments if not a.inline)
    letter = outbound.customer_letter(desk, ticket, customer.email, "update", context,
                                      from_name=from_name(desk, work.agent, ticket),
                                      attachments=files,
                                      cc=participants.copies(desk, session, ticket),
                                      agent=work.agent.email)
    row = outbound.send(desk, session, ticket, letter, work.now,
                        thread=customer_thread(session, ticket))
    if work.collision is not None and row is not None:
        collisions.hold(session, ticket, row, work.agent.email, work.collision,
                        work.mail.message_id, body, work.now)
        _tell_collision(desk, session, ticket, work, body)
    else:
        collisions.record_answer(session, ticket, work.agent.email, row, work.mail.message_id,
                                 body, work.now)
    lifecycle.record_first_response(desk, ticket, work.now)
    lifecycle.change_status(desk, session, ticket, target, actor=work.agent.email,
                            now=work.now, reason="agent replied",
                            notify=target == TicketStatus.CLOSED and work.collision is None,
                            agent_name=work.agent.name)


def customer_thread(session: Session, ticket: Ticket) -> Thread:
    """Answer the customer's latest mail, so their client threads it under what they wrote."""
    latest = session.execute(
        select(Message.message_id).where(
            Message.ticket_id == ticket.id, Message.direction == Direction.IN,
            Message.kind == AuthorKind.CUSTOMER, Message.internal.is_(False),
            Message.flagged.is_(False), Message.message_id.is_not(None))
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(1)).scalar_one_or_none()
    return outbound.conversation(session, ticket, reply_to=latest)


def tell_agent(desk: Desk, session: Session, ticket: Ticket, work: Work, template: str,
               context: object) -> None:
    """A confirmation or an error to the agent, as a reply to what they sent."""
    thread = outbound.conversation(session, ticket, reply_to=work.mail.message_id)
    for letter in outbound.agent_letters(desk, ticket, [work.agent.email], template,
                                         lambda _agent: context):
        outbound.send(desk, session, ticket, letter, work.now, thread=thread)


def _tell_collision(desk: Desk, session: Session, ticket: Ticket, work: Work,
                    body: str) -> None:
    collision = work.collision
    assert collision is not None
    other = desk.ruleset.agent_for(collision.agent)
    tell_agent(desk, session, ticket, work, "collision", CollisionContext(
        ticket.ref, ticket.subject, other.name if other and other.name else collision.agent,
        collision.text, collisions.ago(collision.at, work.now), body, work.agent.name))


def confirm(desk: Desk, session: Session, ticket: Ticket, work: Work,
            applied: Sequence[str]) -> None:
    applied = translate_all(applied, work.agent.language)
    tell_agent(desk, session, ticket, work, "confirm",
               ConfirmContext(ticket.ref, ticket.subject, tuple(applied), work.agent.name))


def reject(desk: Desk, session: Session, ticket: Ticket, work: Work, errors: Sequence[str],
           lines: Sequence[str]) -> None:
    """Nothing applied, nothing to the customer: keep the mail internal and tell the agent."""
    message = tickets.add_message(session, ticket, work.mail, raw_id=work.raw_id,
                                  direction=Direction.IN, kind=AuthorKind.AGENT,
                                  match=work.match, now=work.now,
                                  attachments_root=desk.attachments_root,
                                  agent=work.agent.email)
    message.internal = True
    log_event(session, ticket.id, work.agent.email, "commands-rejected",
              {"errors": list(errors), "lines": list(lines)}, "; ".join(errors), at=work.now)
    tell_agent(desk, session, ticket, work, "command_error",
               CommandErrorContext(translate_all(errors, work.agent.language), ticket.ref, ticket.subject, work.agent.name,
                                   "\n".join(lines)))
