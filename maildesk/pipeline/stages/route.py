"""Apply what the rules decided: classification, assignment, SLA clocks, escalation.

On a new ticket every action applies. On a follow-up only tags, watchers and escalation
do: type, priority, queue and assignee are set once, so a customer's reply never undoes
what an agent changed by hand.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.pipeline.item import Item
from maildesk.runtime.desk import Desk
from maildesk.store.models import Ticket
from maildesk.tickets import operations as tickets
from maildesk.types import Decision, Source


def route(desk: Desk, session: Session, item: Item) -> Item:
    if item.ticket_id is None or item.decision is None:
        return item
    ticket = session.get(Ticket, item.ticket_id)
    assert ticket is not None
    decision = item.decision
    if item.new_ticket:
        _classify_new(desk, session, ticket, decision, item)
    else:
        tickets.apply_decision(session, ticket, Decision(tags=decision.tags,
                                                         watchers=decision.watchers,
                                                         hits=decision.hits,
                                                         rules_version=decision.rules_version),
                               now=item.now)
    if decision.escalate:
        tickets.escalate(session, ticket, desk.ruleset, actor=_rule_actor(decision),
                         now=item.now, reason="escalated by rule",
                         version=decision.rules_version)
    return replace(item, spam=decision.spam or item.spam)


def _classify_new(desk: Desk, session: Session, ticket: Ticket, decision: Decision,
                  item: Item) -> None:
    tickets.apply_decision(session, ticket, decision, now=item.now)
    if decision.assign is not None:
        tickets.route(session, ticket, desk.ruleset, decision.assign,
                      actor=_rule_actor(decision), now=item.now, reason="assigned by rule",
                      version=decision.rules_version)
    if item.raw.source != Source.IMPORT:  # history starts no clock (intake/settle.py)
        tickets.set_sla(session, ticket, desk.sla, now=item.now)


def _rule_actor(decision: Decision) -> str:
    return f"rule:{decision.hits[-1].rule}" if decision.hits else "system"
