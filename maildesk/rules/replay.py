"""`maildesk rules diff`: the current rules replayed over past mail, compared with what
the rules set at the time. Nothing is written.

For each ticket with customer mail received in the period (read back from the raw
journal, `raw_messages`), the mail that opened it is evaluated again as new mail and
its follow-ups as follow-ups, at the time each was processed. "What was set" is the
ticket as the intake left it: its fields now, with every later change by hand (the
events `type`, `priority`, `assigned` after the ticket's creation) unwound, and the tags
the rule events of the time added. The comparison is pure (`compare`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.mail.parse import parse
from maildesk.rules.context import RuleContext
from maildesk.rules.evaluate import evaluate
from maildesk.rules.schema import RuleSet
from maildesk.store.models import Contact, Event, Message, RawMessage, Ticket
from maildesk.types import AuthorKind, Decision, Direction, RuleHit, TicketStatus

FIELDS = ("type", "priority", "queue", "team", "assignee", "tags")
# What a ticket has when no rule sets a field (the column defaults of store/models.py).
DEFAULTS: dict[str, str | None] = {"type": "question", "priority": "P3", "queue": "general",
                                   "team": None, "assignee": None}
ACTION_PREFIX = {"type": "type=", "priority": "priority=", "queue": "queue=",
                 "team": "assign=", "assignee": "assign="}


@dataclass(frozen=True, slots=True)
class Setting:
    """The fields the intake left on a ticket, and which rule set each (from the log)."""

    values: dict[str, Any]
    tags: frozenset[str]
    by: dict[str, tuple[str, str, int]]  # field or "tag:x" -> (rule, file, line)


@dataclass(frozen=True, slots=True)
class Difference:
    field: str
    was: str
    would: str
    rule: str  # the rule responsible ("" when none sets it now)
    file: str
    line: int | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class TicketDiff:
    ref: str
    subject: str
    mails: int
    differences: tuple[Difference, ...]


Members = dict[str, frozenset[str]]  # team -> agent e-mails


def _show(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


def _responsible(hits: Sequence[RuleHit], prefix: str) -> RuleHit | None:
    """The last rule whose actions set the field (later rules override earlier ones)."""
    found = None
    for hit in hits:
        if any(action.startswith(prefix) for action in hit.actions):
            found = hit
    return found


def _difference(field: str, was: Any, would: Any, hit: RuleHit | None, setting: Setting,
                note: str = "") -> Difference:
    if hit is not None:
        return Difference(field, _show(was), _show(would), hit.rule, hit.file, hit.line, note)
    rule, file, line = setting.by.get(field, ("", "", 0))
    why = f"no current rule sets it (it was rule '{rule}')" if rule else "no current rule sets it"
    return Difference(field, _show(was), _show(would), "", file, line or None,
                      note or why)


def compare(setting: Setting, decision: Decision, members: Members,
            first: bool) -> list[Difference]:
    """What `decision` would set differently from `setting`; only tags on a follow-up."""
    found = []
    if first:
        found.extend(_scalars(setting, decision))
        found.extend(_assignment(setting, decision, members))
    found.extend(_tags(setting, decision))
    return found


def _scalars(setting: Setting, decision: Decision) -> list[Difference]:
    found = []
    for field in ("type", "priority", "queue"):
        would = getattr(decision, field)
        would = str(would) if would is not None else DEFAULTS[field]
        if would != setting.values.get(field):
            hit = _responsible(decision.hits, ACTION_PREFIX[field])
            found.append(_difference(field, setting.values.get(field), would, hit, setting))
    return found


def _assignment(setting: Setting, decision: Decision, members: Members) -> list[Difference]:
    assign = decision.assign
    team = assign.team if assign else None
    hit = _responsible(decision.hits, "assign=")
    found = []
    if team != setting.values.get("team"):
        found.append(_difference("team", setting.values.get("team"), team, hit, setting))
    was = setting.values.get("assignee")
    if assign is not None and assign.agent:
        if assign.agent != was:
            found.append(_difference("assignee", was, assign.agent, hit, setting))
    elif team is not None:
        if was is not None and was not in members.get(team, frozenset()):
            found.append(_difference("assignee", was, f"(someone in team {team})", hit, setting,
                                     f"{assign.strategy if assign else ''} picks the agent"))
    elif was is not None:
        found.append(_difference("assignee", was, None, hit, setting))
    return found


def _tags(setting: Setting, decision: Decision) -> list[Difference]:
    found = []
    would = set(decision.tags)
    for tag in sorted(would - setting.tags):
        hit = _responsible(decision.hits, f"tag+={tag}")
        found.append(_difference("tags", "", f"+{tag}", hit, setting))
    for tag in sorted(setting.tags - would):
        rule, file, line = setting.by.get(f"tag:{tag}", ("", "", 0))
        found.append(Difference("tags", tag, f"-{tag}", "", file, line or None,
                                f"no current rule adds it (it was rule '{rule}')" if rule
                                else "no current rule adds it"))
    return found


# -- reading the database ----------------------------------------------------------------

def _rule_events(events: Sequence[Event], at: datetime) -> Setting:
    """Tags the rule events logged at `at` added, and which rule set each field."""
    tags: set[str] = set()
    by: dict[str, tuple[str, str, int]] = {}
    for event in events:
        if event.action != "rule" or event.at != at:
            continue
        detail = event.detail or {}
        action = str(detail.get("action", ""))
        where = (str(detail.get("rule", "")), str(detail.get("file", "")),
                 int(detail.get("line") or 0))
        if action.startswith("tag+="):
            tag = action.removeprefix("tag+=")
            tags.add(tag)
            by[f"tag:{tag}"] = where
        for field, prefix in ACTION_PREFIX.items():
            if action.startswith(prefix):
                by[field] = where
    return Setting({}, frozenset(tags), by)


def intake_setting(ticket: Ticket, events: Sequence[Event]) -> Setting:
    """The ticket's fields as its intake left them: later changes by hand unwound."""
    values: dict[str, Any] = {"type": ticket.type, "priority": ticket.priority,
                              "queue": ticket.queue, "team": ticket.team,
                              "assignee": ticket.assignee}
    later = [e for e in events if e.at > ticket.created_at]
    for action, fields in (("type", ("type",)), ("priority", ("priority",)),
                           ("assigned", ("team", "assignee"))):
        first = next((e for e in later if e.action == action), None)
        if first is None:
            continue
        before = (first.detail or {}).get("from")
        for field in fields:
            values[field] = before.get(field) if isinstance(before, dict) else before
    rules = _rule_events(events, ticket.created_at)
    return Setting(values, rules.tags, rules.by)


@dataclass(frozen=True, slots=True)
class Replayed:
    since: datetime
    mails: int
    tickets: int
    changed: tuple[TicketDiff, ...]


def replay(session: Session, ruleset: RuleSet, since: datetime,
           context: Any) -> Replayed:
    """Every ticket with customer mail since `since`, compared; `context(contact, now,
    follow_up)` gives the RuleContext the decide stage would have used."""
    rows = session.execute(
        select(Message, RawMessage.data).join(RawMessage, RawMessage.id == Message.raw_id)
        .where(RawMessage.received_at >= since, Message.direction == Direction.IN,
               Message.kind == AuthorKind.CUSTOMER, Message.flagged.is_(False))
        .order_by(Message.ticket_id, Message.created_at, Message.id)).all()
    by_ticket: dict[int, list[tuple[Message, bytes]]] = {}
    for message, data in rows:
        by_ticket.setdefault(message.ticket_id, []).append((message, data))
    members = {team: frozenset(a.email for a in ruleset.members(team)) for team in ruleset.teams}
    changed = []
    for ticket_id, mails in by_ticket.items():
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or ticket.status == TicketStatus.MERGED:
            continue
        found = _ticket_diff(session, ruleset, ticket, mails, members, context)
        if found.differences:
            changed.append(found)
    return Replayed(since, len(rows), len(by_ticket), tuple(changed))


def _ticket_diff(session: Session, ruleset: RuleSet, ticket: Ticket,
                 mails: list[tuple[Message, bytes]], members: Members,
                 context: Any) -> TicketDiff:
    own = session.execute(select(Event).where(Event.ticket_id == ticket.id)
                          .order_by(Event.at, Event.id)).scalars().all()
    opener = next(iter(_opening_messages(own)), None)
    # Mail merged in from other tickets was classified there: read their events too.
    merged = select(Ticket.id).where(Ticket.merged_into_id == ticket.id)
    events = [*own, *session.execute(select(Event).where(
        Event.ticket_id.in_(merged), Event.action.in_(("rule", "threaded")))).scalars()]
    opened = _opening_messages(events)  # mail that opened this ticket or one merged into it
    differences: list[Difference] = []
    for message, data in mails:
        first = message.id == opener
        setting = intake_setting(ticket, own) if first else \
            _rule_events(events, message.created_at)
        contact = _contact(session, message.from_addr) or session.get(Contact, ticket.customer_id)
        ctx: RuleContext = context(contact, message.created_at, message.id not in opened)
        decision = evaluate(ruleset, parse(data), ctx)
        differences.extend(d for d in compare(setting, decision, members, first)
                           if d not in differences)
    return TicketDiff(ticket.ref, ticket.subject, len(mails), tuple(differences))


def _opening_messages(events: Sequence[Event]) -> list[int]:
    """The messages that opened a ticket (their "threaded" event says method new)."""
    return [int(detail["message"]) for detail in (e.detail or {} for e in events
                                                   if e.action == "threaded")
            if detail.get("method") == "new" and detail.get("message") is not None]


def _contact(session: Session, email: str) -> Contact | None:
    return session.execute(select(Contact).where(Contact.email == email)).scalar_one_or_none()


def replayed_to_dict(result: Replayed) -> dict[str, Any]:
    return {"since": result.since.isoformat(), "mails": result.mails,
            "tickets": result.tickets,
            "changed": [{"ref": t.ref, "subject": t.subject, "mails": t.mails,
                         "differences": [{"field": d.field, "was": d.was, "would": d.would,
                                          "rule": d.rule, "file": d.file, "line": d.line,
                                          "note": d.note} for d in t.differences]}
                        for t in result.changed]}


def render_replayed(result: Replayed) -> str:
    lines = [f"replayed {result.mails} mail(s) of {result.tickets} ticket(s) received since "
             f"{result.since.isoformat(timespec='minutes')} with the current rules"]
    for ticket in result.changed:
        lines.append(f"\n{ticket.ref}  {ticket.subject}")
        for d in ticket.differences:
            where = f"{d.file}:{d.line}" if d.file and d.line else ""
            rule = f"rule '{d.rule}' {where}" if d.rule else where
            note = f"  ({d.note})" if d.note else ""
            change = d.would if d.field == "tags" else f"{d.was} -> {d.would}"
            lines.append(f"  {d.field:<9}{change}   {rule}{note}".rstrip())
    count = len(result.changed)
    lines.append(f"\n{count} ticket{'s' if count != 1 else ''} would be set differently"
                 if count else "\nno ticket would be set differently")
    return "\n".join(lines)
