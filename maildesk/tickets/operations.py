"""Ticket operations on the database: open, add a message, change status, assign.

Every change is written together with an Event row (who, what, why), in the caller's
transaction, so the log never disagrees with the ticket.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.rules import RuleSet, assignee_for
from maildesk.sla.model import SlaSettings, paused_time
from maildesk.store.blobs import save_blob
from maildesk.store.models import AttachmentRow, Blob, Contact, Message, Ticket
from maildesk.store.queries import add_keys, add_thread_keys, insert_ignore, log_event, next_number
from maildesk.tickets.threader import normalize_subject
from maildesk.types import (
    FINISHED_STATES,
    OPEN_STATES,
    Assignment,
    AuthorKind,
    Decision,
    Direction,
    ParsedMail,
    ThreadMatch,
    TicketStatus,
)


def open_ticket(session: Session, *, prefix: str, customer: Contact, subject: str,
                channel: str, now: datetime, language: str | None = None,
                related_ticket_id: int | None = None, actor: str = "system",
                reason: str = "", brand: str | None = None) -> Ticket:
    """Create a ticket with the next human reference (MD-1042)."""
    number = next_number(session, "ticket")
    ticket = Ticket(number=number, ref=f"{prefix}-{number}", status=TicketStatus.NEW,
                    customer_id=customer.id, organisation=customer.organisation,
                    subject=subject[:5000], normalized_subject=normalize_subject(subject, prefix),
                    channel=channel, language=language or customer.language,
                    related_ticket_id=related_ticket_id, created_at=now, updated_at=now,
                    last_activity_at=now, tags=[], watchers=[], brand=brand)
    session.add(ticket)
    session.flush()
    detail: dict[str, object] = {"ref": ticket.ref, "customer": customer.email, "channel": channel}
    if brand:
        detail["brand"] = brand
    if related_ticket_id:
        detail["related_ticket_id"] = related_ticket_id
    log_event(session, ticket.id, actor, "created", detail, reason, at=now)
    return ticket


def store_attachments(session: Session, message: Message, mail: ParsedMail, root: Path) -> None:
    for part in mail.attachments:
        sha = save_blob(root, part.payload)
        insert_ignore(session, Blob.__table__, {"sha256": sha, "size": len(part.payload),
                                                "created_at": message.created_at}, ["sha256"])
        session.add(AttachmentRow(message_id=message.id, sha256=sha, filename=part.filename,
                                  content_type=part.content_type, size=len(part.payload),
                                  inline=part.inline, content_id=part.content_id))


def add_message(session: Session, ticket: Ticket, mail: ParsedMail, *, raw_id: int | None,
                direction: Direction, kind: AuthorKind, match: ThreadMatch, now: datetime,
                attachments_root: Path, agent: str | None = None, text: str | None = None,
                flagged: str | None = None) -> Message:
    """Store a message on a ticket, with its attachments and the ids that thread to it."""
    message = Message(
        ticket_id=ticket.id, raw_id=raw_id, message_id=mail.message_id, direction=direction,
        kind=kind, from_addr=mail.from_addr.email if mail.from_addr else "",
        from_name=mail.from_addr.name if mail.from_addr else "",
        to_addrs=[a.email for a in mail.to], cc_addrs=[a.email for a in mail.cc],
        subject=mail.subject, text=mail.text if text is None else text, html=mail.html,
        date=mail.date, created_at=now, thread_method=match.method, weak_match=match.weak,
        internal=kind == AuthorKind.NOTE, agent=agent, flagged=flagged is not None,
        flag_reason=flagged)
    session.add(message)
    session.flush()
    store_attachments(session, message, mail, attachments_root)
    add_keys(session, ticket.id, [(mail.message_id or "", "own"), (
        mail.thread_index.hex() if mail.thread_index is not None else "", "thread-index")])
    ticket.updated_at = ticket.last_activity_at = now
    return message


def add_aliases(session: Session, ticket: Ticket, ids: Iterable[str]) -> None:
    add_thread_keys(session, ticket.id, ids, "alias")


def _due_times(ticket: Ticket, sla: SlaSettings) -> tuple[datetime, datetime]:
    """The ticket's due times from the calendar: its policy and priority counted from its
    creation, plus every pause so far. Never shifted step by step, so never drifting."""
    return sla.due_times(ticket.sla_policy, ticket.priority, ticket.created_at,
                         timedelta(seconds=ticket.paused_seconds))


def _resume(ticket: Ticket, now: datetime, sla: SlaSettings | None) -> None:
    """Leaving pending: the business time spent waiting on the customer is added to the
    ticket's total pause, and the resolution due time recomputed from it."""
    if ticket.pending_since is None:
        return
    paused = (paused_time(ticket.pending_since, now, sla.calendar) if sla
              else max(timedelta(0), now - ticket.pending_since))
    ticket.paused_seconds += int(paused.total_seconds())
    ticket.pending_since = None
    if ticket.resolution_due_at is not None and sla is not None:
        _, ticket.resolution_due_at = _due_times(ticket, sla)


def set_status(session: Session, ticket: Ticket, status: TicketStatus, *, actor: str,
               now: datetime, reason: str = "",
               sla: SlaSettings | None = None) -> bool:
    """Move a ticket to `status`, keeping the lifecycle timestamps right. False if no change."""
    old = TicketStatus(ticket.status)
    if old == status:
        return False
    if old == TicketStatus.PENDING:
        _resume(ticket, now, sla)
    if status == TicketStatus.PENDING:
        ticket.pending_since = now
    if status == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    if status == TicketStatus.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    if old in FINISHED_STATES and status in OPEN_STATES:
        ticket.reopen_count += 1
        ticket.resolved_at = ticket.closed_at = None
    ticket.status = status
    ticket.updated_at = now
    action = "reopened" if old in FINISHED_STATES else "status"
    log_event(session, ticket.id, actor, action, {"from": old, "to": status}, reason, at=now)
    return True


def customer_replied(session: Session, ticket: Ticket, *, now: datetime, actor: str,
                     sla: SlaSettings | None = None) -> None:
    """A customer's follow-up puts a waiting or finished ticket back in the agents' court."""
    if ticket.status == TicketStatus.PENDING or ticket.status in FINISHED_STATES:
        set_status(session, ticket, TicketStatus.OPEN, actor=actor, now=now,
                   reason="customer replied", sla=sla)


def apply_decision(session: Session, ticket: Ticket, decision: Decision, *,
                   now: datetime) -> None:
    """Write what the rules decided, one event per rule action."""
    for field in ("type", "priority", "impact", "urgency", "queue", "ack_template",
                  "language", "sla"):
        value = getattr(decision, field)
        if value is not None:
            setattr(ticket, "sla_policy" if field == "sla" else field, str(value))
    if decision.tags:
        ticket.tags = sorted(set(ticket.tags or []) | set(decision.tags))
    if decision.watchers:
        ticket.watchers = sorted(set(ticket.watchers or []) | set(decision.watchers))
    if decision.spam:
        ticket.spam = True
    for hit in decision.hits:
        for action in hit.actions:
            log_event(session, ticket.id, f"rule:{hit.rule}", "rule",
                      {"rule": hit.rule, "file": hit.file, "line": hit.line, "action": action,
                       "rules_version": decision.rules_version},
                      f"rule '{hit.rule}' {action}", at=now)


def assign(session: Session, ticket: Ticket, *, agent: str | None, team: str | None,
           actor: str, now: datetime, reason: str = "", tier: int | None = None,
           version: str = "") -> None:
    """`version` names the rule set when a rule assigns (Desk.version), for the event log."""
    before = {"assignee": ticket.assignee, "team": ticket.team}
    ticket.assignee = agent
    if team is not None:
        ticket.team = team
    if tier is not None:
        ticket.tier = tier
    ticket.updated_at = now
    detail: dict[str, object] = {"from": before, "assignee": agent, "team": ticket.team}
    if version:
        detail["rules_version"] = version
    log_event(session, ticket.id, actor, "assigned", detail, reason, at=now)


def find_ticket_by_ref(session: Session, ref: str) -> Ticket | None:
    return session.execute(select(Ticket).where(Ticket.ref == ref.upper())).scalar_one_or_none()


def open_counts(session: Session, agents: Iterable[str]) -> dict[str, int]:
    """Open tickets per agent, for least-open assignment."""
    agents = list(agents)
    rows = session.execute(select(Ticket.assignee, func.count()).where(
        Ticket.assignee.in_(agents), Ticket.status.in_([s.value for s in OPEN_STATES]))
        .group_by(Ticket.assignee))
    counts = dict.fromkeys(agents, 0)
    counts.update({assignee: n for assignee, n in rows if assignee is not None})
    return counts


def last_assignee(session: Session, team: str) -> str | None:
    """Who got the team's most recent ticket, for round-robin."""
    return session.execute(select(Ticket.assignee).where(
        Ticket.team == team, Ticket.assignee.is_not(None))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(1)).scalar_one_or_none()


def route(session: Session, ticket: Ticket, ruleset: RuleSet, assignment: Assignment, *,
          actor: str, now: datetime, reason: str = "", version: str = "") -> None:
    """Assign to an agent or a team, choosing the agent by the team's strategy."""
    team = ruleset.team(assignment.team) if assignment.team else None
    members = ruleset.members(team.name) if team else ()
    agent = assignee_for(ruleset, assignment,
                         open_counts(session, [m.email for m in members]),
                         last_assignee(session, team.name) if team else None)
    assign(session, ticket, agent=agent, team=team.name if team else None, actor=actor,
           now=now, reason=reason, tier=team.tier if team else None, version=version)


def escalate(session: Session, ticket: Ticket, ruleset: RuleSet, *, actor: str,
             now: datetime, reason: str, version: str = "") -> bool:
    """Move the ticket to the next tier's team (1 -> 2 -> 3). False at the top tier."""
    team = ruleset.next_tier_team(ticket.tier)
    ticket.escalation_level += 1
    if team is None:
        log_event(session, ticket.id, actor, "escalated",
                  {"level": ticket.escalation_level, "tier": ticket.tier, "to_team": None,
                   **({"rules_version": version} if version else {})},
                  reason or "already at the top tier", at=now)
        return False
    route(session, ticket, ruleset, Assignment(team=team.name, strategy="least-open"),
          actor=actor, now=now, reason=reason, version=version)
    log_event(session, ticket.id, actor, "escalated",
              {"level": ticket.escalation_level, "tier": team.tier, "to_team": team.name,
               **({"rules_version": version} if version else {})},
              reason, at=now)
    return True


def set_sla(session: Session, ticket: Ticket, sla: SlaSettings, *, now: datetime,
            actor: str = "system") -> None:
    """(Re)compute due times from the ticket's policy and priority, from its creation."""
    response, resolution = _due_times(ticket, sla)
    if (response, resolution) == (ticket.response_due_at, ticket.resolution_due_at):
        return
    ticket.response_due_at, ticket.resolution_due_at = response, resolution
    log_event(session, ticket.id, actor, "sla",
              {"policy": sla.policy(ticket.sla_policy).name, "priority": ticket.priority,
               "response_due_at": response.isoformat() if response else None,
               "resolution_due_at": resolution.isoformat() if resolution else None}, at=now)


def change_priority(session: Session, ticket: Ticket, priority: str, sla: SlaSettings, *,
                    actor: str, now: datetime, reason: str = "") -> bool:
    """Set a new priority and recompute the due times from it. False if unchanged.

    Every path that changes a priority after creation (agent `#priority`, the CLI) goes
    through here, so the SLA clocks always match the priority the ticket has.
    """
    if ticket.priority == priority:
        return False
    old, ticket.priority, ticket.updated_at = ticket.priority, priority, now
    log_event(session, ticket.id, actor, "priority", {"from": old, "to": priority}, reason,
              at=now)
    set_sla(session, ticket, sla, now=now, actor=actor)
    return True
