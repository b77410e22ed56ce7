"""What each timer action does to a ticket: warn, record a breach, escalate, remind, close.

The scheduler has already recorded the action's TimerMark in the same transaction, so
each function here runs once per (ticket, kind, due time). Every action writes an event
("sla-warning", "sla-breach", "escalated", "reminder", "auto-closed") and mails the people
the planner named: agents get one letter each in their own language (outbound.agent_letters),
the customer gets the ticket's language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from maildesk.outbox import letters as outbound
from maildesk.outbox.context import (
    AgentReminderContext,
    EscalationContext,
    ReminderContext,
    SlaWarningContext,
)
from maildesk.rules.schema import RuleSet
from maildesk.runtime.desk import Desk
from maildesk.sla.model import BusinessDuration, TimerKind
from maildesk.sla.planner import TimerAction
from maildesk.sla.wording import describe_duration, format_local
from maildesk.store.models import Contact, Ticket
from maildesk.store.queries import log_event
from maildesk.tickets import lifecycle
from maildesk.tickets import operations as tickets
from maildesk.types import TicketStatus

log = logging.getLogger(__name__)

ACTOR = "sla"
WORDS = {
    "en": {"response": "first response", "resolution": "resolution",
           "missed": "none: the target was missed", "on": "on ",
           "breach-response": "first response target missed",
           "breach-resolution": "resolution target missed"},
    "es": {"response": "primera respuesta", "resolution": "resolución",
           "missed": "ninguno: el plazo ha vencido", "on": "el ",
           "breach-response": "plazo de primera respuesta vencido",
           "breach-resolution": "plazo de resolución vencido"},
}
Handler = Callable[[Desk, Session, Ticket, TimerAction, datetime], str]


def apply_action(desk: Desk, session: Session, ticket: Ticket, action: TimerAction,
                 now: datetime) -> str:
    """Do `action` on `ticket`; returns a one-line description for the tick's output."""
    return HANDLERS[action.kind](desk, session, ticket, action, now)


# -- who ----------------------------------------------------------------------------------

def team_lead(ruleset: RuleSet, team_name: str | None) -> list[str]:
    """The team's lead, or its active members when it has none (someone must hear it)."""
    team = ruleset.team(team_name) if team_name else None
    if team is None:
        return []
    if team.lead:
        return [team.lead]
    return [a.email for a in ruleset.members(team.name) if a.active]


def people(desk: Desk, ticket: Ticket, roles: Iterable[str]) -> list[str]:
    """Agent addresses for the planner's roles: assignee, team, team-lead."""
    ruleset = desk.ruleset
    found: list[str] = []
    for role in roles:
        if role == "assignee" and ticket.assignee:
            found.append(ticket.assignee)
        elif role in ("assignee", "team") and ticket.team:
            found.extend(a.email for a in ruleset.members(ticket.team) if a.active)
        elif role == "team-lead":
            found.extend(team_lead(ruleset, ticket.team))
    return list(dict.fromkeys(found))


def language_of(desk: Desk, agent: Any) -> str:
    language = getattr(agent, "language", None) or desk.config.desk.language
    return language if language in WORDS else "en"


def mail_agents(desk: Desk, session: Session, ticket: Ticket, recipients: list[str],
                template: str, context_for: Callable[[Any], Any], now: datetime) -> None:
    for letter in outbound.agent_letters(desk, ticket, recipients, template, context_for):
        outbound.send(desk, session, ticket, letter, now)


def remaining(delta: timedelta, language: str) -> str:
    """Business time left, in words, never below one minute."""
    minutes = max(1, int(delta.total_seconds() // 60))
    return describe_duration(BusinessDuration(time=timedelta(minutes=minutes)), language)


# -- handlers -----------------------------------------------------------------------------

def _target(kind: TimerKind) -> str:
    return "response" if kind in (TimerKind.WARN_RESPONSE, TimerKind.BREACH_RESPONSE) \
        else "resolution"


def warn(desk: Desk, session: Session, ticket: Ticket, action: TimerAction,
         now: datetime) -> str:
    """Tell the owner a target is near, with the time left."""
    target = _target(action.kind)
    due = ticket.response_due_at if target == "response" else ticket.resolution_due_at
    assert due is not None
    left = desk.sla.calendar.business_time_between(now, due)
    recipients = people(desk, ticket, action.notify)
    _sla_mail(desk, session, ticket, recipients, target, due, now,
              lambda language: remaining(left, language))
    log_event(session, ticket.id, ACTOR, "sla-warning",
              {"target": target, "due_at": due.isoformat(), "to": recipients}, at=now)
    return f"{target} due {due.isoformat()}, warned {', '.join(recipients) or 'nobody'}"


def _sla_mail(desk: Desk, session: Session, ticket: Ticket, recipients: list[str],
              target: str, due: datetime, now: datetime, left: Callable[[str], str]) -> None:
    def context(agent: Any) -> SlaWarningContext:
        language = language_of(desk, agent)
        return SlaWarningContext(
            ticket_ref=ticket.ref, subject=ticket.subject, target=WORDS[language][target],
            due=format_local(due, desk.sla.calendar, language), remaining=left(language),
            agent_name=getattr(agent, "name", ""), priority=ticket.priority)

    mail_agents(desk, session, ticket, recipients, "sla_warning", context, now)


def breach(desk: Desk, session: Session, ticket: Ticket, action: TimerAction,
           now: datetime) -> str:
    """Record the missed target; tell the owner unless the escalation step tells the lead."""
    target = _target(action.kind)
    setattr(ticket, f"{target}_breached_at", action.due_at)
    log_event(session, ticket.id, ACTOR, "sla-breach",
              {"target": target, "due_at": action.due_at.isoformat()}, at=now)
    late_answer = target == "response" and ticket.first_response_at is not None
    escalates = getattr(desk.sla.escalation, f"on_{target}_breach")
    roles = [r for r in action.notify if r != "team-lead" or not escalates]
    recipients = [] if late_answer else people(desk, ticket, roles)
    _sla_mail(desk, session, ticket, recipients, target, action.due_at, now,
              lambda language: WORDS[language]["missed"])
    return f"{target} target missed at {action.due_at.isoformat()}"


def escalate(desk: Desk, session: Session, ticket: Ticket, action: TimerAction,
             now: datetime) -> str:
    """Move the ticket to the next tier's team, then tell that team's lead."""
    kind = "breach-resolution" if ticket.resolution_breached_at else "breach-response"
    moved = tickets.escalate(session, ticket, desk.ruleset, actor=ACTOR, now=now,
                             reason=WORDS["en"][kind])
    recipients = people(desk, ticket, action.notify)
    customer = session.get(Contact, ticket.customer_id)

    def context(agent: Any) -> EscalationContext:
        return EscalationContext(
            ticket_ref=ticket.ref, subject=ticket.subject,
            customer_name=(customer.name or customer.email) if customer else "",
            reason=WORDS[language_of(desk, agent)][kind], lead_name=getattr(agent, "name", ""),
            priority=ticket.priority, queue=ticket.queue, assignee=ticket.assignee or "",
            level=ticket.escalation_level)

    mail_agents(desk, session, ticket, recipients, "escalation", context, now)
    where = f"to {ticket.team} (tier {ticket.tier})" if moved else "at the top tier"
    return f"level {ticket.escalation_level} {where}, told {', '.join(recipients) or 'nobody'}"


def remind_agent(desk: Desk, session: Session, ticket: Ticket, action: TimerAction,
                 now: datetime) -> str:
    """The customer wrote last and nobody answered within agent_reminder.after."""
    recipients = people(desk, ticket, action.notify)
    customer = session.get(Contact, ticket.customer_id)
    after = desk.sla.remind_agent_after or BusinessDuration(days=1)

    def context(agent: Any) -> AgentReminderContext:
        return AgentReminderContext(
            ticket_ref=ticket.ref, subject=ticket.subject,
            customer_name=(customer.name or customer.email) if customer else "",
            waiting_since=describe_duration(after, language_of(desk, agent)),
            agent_name=getattr(agent, "name", ""), priority=ticket.priority)

    mail_agents(desk, session, ticket, recipients, "agent_reminder", context, now)
    log_event(session, ticket.id, ACTOR, "reminder", {"to": "agents", "recipients": recipients},
              at=now)
    return f"reminded {', '.join(recipients) or 'nobody'}"


def remind_customer(desk: Desk, session: Session, ticket: Ticket, action: TimerAction,
                    now: datetime) -> str:
    """Pending on the customer for pending.remind_customer_after: ask again, once."""
    customer = session.get(Contact, ticket.customer_id)
    assert customer is not None
    language = ticket.language if ticket.language in WORDS else language_of(desk, None)
    pending = desk.sla.pending
    close_at = (pending.auto_close_after.after(ticket.pending_since, desk.sla.calendar)
                if pending.auto_close_after and ticket.pending_since else None)
    context = ReminderContext(
        ticket_ref=ticket.ref, subject=ticket.subject, customer_name=customer.name,
        waiting_since=describe_duration(pending.remind_customer_after, language)
        if pending.remind_customer_after else "",
        close_after=WORDS[language]["on"] + format_local(close_at, desk.sla.calendar, language)
        if close_at else "")
    letter = outbound.customer_letter(desk, ticket, customer.email, "reminder", context)
    outbound.send(desk, session, ticket, letter, now)
    log_event(session, ticket.id, ACTOR, "reminder", {"to": "customer"}, at=now)
    return f"reminded the customer {customer.email}"


def auto_close(desk: Desk, session: Session, ticket: Ticket, action: TimerAction,
               now: datetime) -> str:
    """No answer while pending for pending.auto_close_after: close, with the survey mail."""
    after = desk.sla.pending.auto_close_after
    reason = f"no answer from the customer for {describe_duration(after) if after else '?'}"
    since = ticket.pending_since  # leaving pending clears it
    lifecycle.change_status(desk, session, ticket, TicketStatus.CLOSED, actor=ACTOR, now=now,
                            reason=reason)
    log_event(session, ticket.id, ACTOR, "auto-closed", {"pending_since": _iso(since)}, reason, at=now)
    return "closed: " + reason


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


HANDLERS: dict[TimerKind, Handler] = {
    TimerKind.WARN_RESPONSE: warn,
    TimerKind.WARN_RESOLUTION: warn,
    TimerKind.BREACH_RESPONSE: breach,
    TimerKind.BREACH_RESOLUTION: breach,
    TimerKind.ESCALATE: escalate,
    TimerKind.REMIND_AGENT: remind_agent,
    TimerKind.REMIND_CUSTOMER: remind_customer,
    TimerKind.AUTO_CLOSE: auto_close,
}
