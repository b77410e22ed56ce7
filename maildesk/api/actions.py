"""What an agent does to a ticket through the API: one table, one line per action.

Each action turns the request body into the same `Plan` an agent's `#commands` give
(agents/commands.plan, so values are checked exactly as in mail) and applies it with
agents/actions.perform, the path `maildesk tickets reply|note|close|assign` takes. An
action that is not a plan (merge) plugs in as a function with the same signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from maildesk.agents.actions import Applied, perform
from maildesk.agents.commands import Command, CommandName, Plan, body_errors, plan
from maildesk.agents.repair_actions import merged_line
from maildesk.rules import RuleSet
from maildesk.rules.schema import Agent
from maildesk.runtime.desk import Desk
from maildesk.store.models import Ticket
from maildesk.tickets import merge as merging
from maildesk.tickets.operations import find_ticket_by_ref

Body = dict[str, Any]
Apply = Callable[[Desk, Session, Ticket, Agent, Body], Applied]


def _commands(*commands: tuple[CommandName, str]) -> Callable[[RuleSet], Plan]:
    return lambda ruleset: plan([Command(name, arg, f"{name} {arg}") for name, arg in commands],
                                ruleset)


def _text(body: Body) -> str:
    return str(body.get("text", body.get("body", ""))).strip()


def reply_plan(body: Body, ruleset: RuleSet) -> tuple[Plan, str]:
    status = body.get("status")
    result = _commands((CommandName.STATUS, status))(ruleset) if status else Plan()
    return result, _text(body)


def note_plan(body: Body, ruleset: RuleSet) -> tuple[Plan, str]:
    text = _text(body)
    return Plan(note=True, errors=body_errors(Plan(note=True), text)), text


def status_plan(body: Body, ruleset: RuleSet) -> tuple[Plan, str]:
    return _commands((CommandName.STATUS, body["status"]))(ruleset), ""


def assign_plan(body: Body, ruleset: RuleSet) -> tuple[Plan, str]:
    target = f"team:{body['team']}" if "team" in body else str(body.get("agent") or body["assignee"])
    return _commands((CommandName.ASSIGN, target))(ruleset), ""


def priority_plan(body: Body, ruleset: RuleSet) -> tuple[Plan, str]:
    return _commands((CommandName.PRIORITY, body["priority"]))(ruleset), ""


def tags_plan(body: Body, ruleset: RuleSet) -> tuple[Plan, str]:
    added = _commands(*((CommandName.TAG, t) for t in body.get("add", ())))(ruleset)
    removed = tuple(dict.fromkeys(t.lower() for t in body.get("remove", ())))
    clash = sorted(set(added.tags) & set(removed))
    errors = (f"tags both added and removed: {', '.join(clash)}",) if clash else ()
    return Plan(tags=added.tags, untag=removed, errors=added.errors + errors), ""


def cc_plan(body: Body, ruleset: RuleSet) -> tuple[Plan, str]:
    """{"add": [...], "remove": [...]}: the plan of `#cc add` / `#cc remove` lines."""
    lines = [(CommandName.CC, f"add {a}") for a in body.get("add", ())]
    lines += [(CommandName.CC, f"remove {a}") for a in body.get("remove", ())]
    return _commands(*lines)(ruleset), ""


def already(ticket: Ticket, result: Plan, text: str) -> tuple[str, ...]:
    """Pure: a bare status change to the state the ticket is in is a conflict (409), so a
    client that raced another agent learns that it changed nothing."""
    if text or result.errors or result.status is None or replace(result, status=None) != Plan():
        return ()
    return (f"{ticket.ref} is already {ticket.status}",) if ticket.status == result.status else ()


def planned(build: Callable[[Body, RuleSet], tuple[Plan, str]]) -> Apply:
    """An action made of a Plan, applied the way mail and the CLI apply it."""
    def apply(desk: Desk, session: Session, ticket: Ticket, agent: Agent, body: Body) -> Applied:
        result, text = build(body, desk.ruleset)
        conflicts = already(ticket, result, text)
        if conflicts:
            return Applied(conflicts=conflicts)
        return perform(desk, session, ticket, agent, result, text, source="api")
    return apply


def merge_into(desk: Desk, session: Session, ticket: Ticket, agent: Agent,
               body: Body) -> Applied:
    """The operation of #merge and `maildesk tickets merge` (tickets/merge.py)."""
    target = find_ticket_by_ref(session, body["into"])
    if target is None:
        return Applied(errors=(f"into: no ticket {body['into']}",))
    problem = merging.merge_problem(ticket, target)
    if problem:
        return Applied(conflicts=(problem,))
    merged = merging.merge(session, ticket, target, actor=agent.email, now=desk.clock())
    return Applied(done=(merged_line(merged),))


@dataclass(frozen=True, slots=True)
class Action:
    schema: str  # the request body's schema in the OpenAPI document
    summary: str
    apply: Apply | None  # None: not available in this version (501)


ACTIONS: dict[str, Action] = {
    "reply": Action("ReplyRequest", "Answer the customer (optionally setting the status)",
                    planned(reply_plan)),
    "note": Action("NoteRequest", "Add an internal note", planned(note_plan)),
    "status": Action("StatusRequest", "Change the status", planned(status_plan)),
    "assign": Action("AssignRequest", "Assign to an agent or hand to a team",
                     planned(assign_plan)),
    "priority": Action("PriorityRequest", "Set the priority", planned(priority_plan)),
    "tags": Action("TagsRequest", "Add and remove tags", planned(tags_plan)),
    "cc": Action("CcRequest", "Add or remove people copied on the ticket", planned(cc_plan)),
    "merge": Action("MergeRequest", "Merge this ticket into another", merge_into),
}


def specs() -> dict[str, tuple[str, str]]:
    """(request schema, summary) per action, for the OpenAPI document."""
    return {name: (a.schema, a.summary) for name, a in ACTIONS.items()}
