"""Pure evaluation: (RuleSet, ParsedMail, RuleContext) -> Decision.

Rules apply in order. A later rule overrides what an earlier one set (type, priority,
queue, assignment, ...), tags and watchers accumulate, and `stop` ends the walk. Setting
impact or urgency recomputes the priority from the matrix (the default standing in for
the other one), so "impact: high" alone gives the matrix's high × medium level.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from maildesk.mail.addresses import normalise_address
from maildesk.rules.conditions import Facts
from maildesk.rules.context import RuleContext
from maildesk.rules.load_then import NO_ACK
from maildesk.rules.schema import Actions, Priorities, RuleSet
from maildesk.text import fold
from maildesk.types import Assignment, Decision, ParsedMail, RuleHit

SCALARS = ("type", "queue", "assign", "ack_template", "language", "spam", "escalate", "sla")


def evaluate(ruleset: RuleSet, mail: ParsedMail, ctx: RuleContext) -> Decision:
    """Apply every matching rule in order and say which rules matched and why."""
    facts = facts_for(ruleset, mail, ctx)
    draft = _Draft()
    for rule in ruleset.rules:
        matched = rule.when.match(facts)
        if matched is None:
            continue
        actions = draft.apply(rule.then, ruleset.priorities)
        if rule.stop:
            actions.append("stop")
        draft.hits.append(RuleHit(rule.name, rule.file, rule.line, matched, tuple(actions)))
        if rule.stop:
            break
    return draft.decision()


def facts_for(ruleset: RuleSet, mail: ParsedMail, ctx: RuleContext) -> Facts:
    """Everything conditions read, folded and localised once per message."""
    local = ctx.now.astimezone(ZoneInfo(ctx.timezone))
    sender = normalise_address(mail.from_addr.email) if mail.from_addr else ""
    hours = ctx.in_business_hours(ctx.now) if ctx.in_business_hours else _office(local)
    vip = ctx.customer_vip or bool(sender and ruleset.vip.has(sender))
    return Facts(mail, ctx, fold(mail.subject), fold(mail.text), sender, local, hours, vip,
                 fold(ctx.customer_organisation or ""))


def _office(local: datetime) -> bool:
    """Fallback business hours when no calendar is plugged in: Mon-Fri 09:00-18:00."""
    return local.weekday() < 5 and 9 <= local.hour < 18


@dataclass
class _Draft:
    """The decision being built; private to one evaluate() call, so mutation stays local."""

    values: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, None] = field(default_factory=dict)
    watchers: dict[str, None] = field(default_factory=dict)
    hits: list[RuleHit] = field(default_factory=list)

    def apply(self, then: Actions, priorities: Priorities) -> list[str]:
        done = []
        for name in SCALARS:
            value = getattr(then, name)
            if value is not None:
                self.values[name] = value
                done.append(f"{name}={_show(value)}")
        if then.spam and then.ack_template is None:
            self.values["ack_template"] = NO_ACK
            done.append(f"ack_template={NO_ACK} (spam)")
        done.extend(self._priority(then, priorities))
        done.extend(f"tag+={t}" for t in then.tags if t not in self.tags)
        done.extend(f"watcher+={w}" for w in then.watchers if w not in self.watchers)
        self.tags.update(dict.fromkeys(then.tags))
        self.watchers.update(dict.fromkeys(then.watchers))
        return done

    def _priority(self, then: Actions, priorities: Priorities) -> list[str]:
        if then.priority is not None:
            self.values["priority"] = then.priority
            return [f"priority={then.priority}"]
        if then.impact is None and then.urgency is None:
            return []
        for name in ("impact", "urgency"):
            if getattr(then, name) is not None:
                self.values[name] = getattr(then, name)
        impact, urgency = self.values.get("impact"), self.values.get("urgency")
        level = priorities.level(impact, urgency)
        self.values["priority"] = level
        return [f"impact={impact or priorities.default_impact}",
                f"urgency={urgency or priorities.default_urgency}", f"priority={level}"]

    def decision(self) -> Decision:
        known = {f.name for f in fields(Decision)}
        values = {k: v for k, v in self.values.items() if k in known}
        return replace(Decision(), **values, tags=tuple(self.tags),
                       watchers=tuple(self.watchers), hits=tuple(self.hits))


def _show(value: object) -> str:
    if isinstance(value, Assignment):
        return describe_assignment(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_assignment(assignment: Assignment) -> str:
    """`team l2 (least-open)`, `agent ana@example.com`, or both."""
    parts = []
    if assignment.agent:
        parts.append(f"agent {assignment.agent}")
    if assignment.team:
        skills = assignment.skills
        wanted = f", skills {'/'.join(skills)}" if skills else ""
        parts.append(f"team {assignment.team} ({assignment.strategy}{wanted})")
    return " or ".join(parts)
