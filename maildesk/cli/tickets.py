"""`maildesk tickets list|show`: look at tickets from the command line."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from maildesk.agents.actions import ADMIN, Work, cli_mail, perform
from maildesk.agents.commands import Command, CommandName, Plan, body_errors, find_agent
from maildesk.agents.commands import plan as plan_commands
from maildesk.agents.macros import read_commands
from maildesk.cli import ticket_tools
from maildesk.cli.common import desk_from, print_json, print_table
from maildesk.cli.ticket_repair import register_repair_actions
from maildesk.mail.addresses import normalise_address
from maildesk.rules import RuleSet
from maildesk.store.db import transaction
from maildesk.store.models import Contact, Message, Ticket
from maildesk.tickets.merge import live_ticket
from maildesk.tickets.views import ticket_detail, ticket_summary
from maildesk.types import TicketStatus


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tickets", help="list and show tickets")
    actions = parser.add_subparsers(dest="tickets_command", required=True)
    ls = actions.add_parser("list", help="list tickets")
    ls.add_argument("--status", action="append", help="only this status (repeatable)")
    ls.add_argument("--queue")
    ls.add_argument("--assignee")
    ls.add_argument("--limit", type=int, default=0)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="show a ticket by reference or Message-ID")
    show.add_argument("ref", help="MD-1042, or a Message-ID of one of its mails")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)
    register_agent_actions(actions)
    ticket_tools.register(actions)
    register_repair_actions(actions)


def register_agent_actions(actions: argparse._SubParsersAction) -> None:
    """reply, note, close, assign: what an agent does by mail, from the command line."""
    for name, helptext in (("reply", "answer the customer as an agent (#commands allowed)"),
                           ("note", "add an internal note (never sent to the customer)")):
        parser = actions.add_parser(name, help=helptext)
        parser.add_argument("ref")
        parser.add_argument("--as", dest="agent", required=True, help="agent e-mail or name")
        parser.add_argument("--file", required=True, help="the text; - reads standard input")
        parser.set_defaults(handler=run_agent_action)
    close = actions.add_parser("close", help="close, sending the closure mail with its survey")
    close.add_argument("ref")
    close.add_argument("--as", dest="agent", help="agent e-mail or name")
    close.set_defaults(handler=run_agent_action)
    assign = actions.add_parser("assign", help="assign to an agent or team:NAME")
    assign.add_argument("ref")
    assign.add_argument("target", help="agent e-mail or name, or team:NAME")
    assign.add_argument("--as", dest="agent", help="agent e-mail or name")
    assign.set_defaults(handler=run_agent_action)
    cc = actions.add_parser("cc", help="add or remove a participant (copied on answers)")
    cc.add_argument("ref")
    cc.add_argument("action", choices=("add", "remove"))
    cc.add_argument("address", help="e-mail address, or \"Name <address>\"")
    cc.add_argument("--as", dest="agent", help="agent e-mail or name")
    cc.set_defaults(handler=run_agent_action)


def run_list(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    query = select(Ticket, Contact).join(Contact, Contact.id == Ticket.customer_id)
    if args.status:
        query = query.where(Ticket.status.in_(args.status))
    if args.queue:
        query = query.where(Ticket.queue == args.queue)
    if args.assignee:
        query = query.where(Ticket.assignee == normalise_address(args.assignee))
    query = query.order_by(Ticket.number.desc())
    if args.limit:
        query = query.limit(args.limit)
    with desk.sessions() as session:
        rows = [ticket_summary(t, c) for t, c in session.execute(query)]
    if args.json:
        print_json(rows)
    else:
        print_table(["ref", "status", "type", "priority", "queue", "assignee", "customer",
                     "subject"], [[r[k] for k in ("ref", "status", "type", "priority", "queue",
                                                   "assignee", "customer", "subject")]
                                  for r in rows])
    return 0


def find(session, key: str) -> Ticket | None:  # type: ignore[no-untyped-def]
    """A ticket by its reference, or by the Message-ID of any of its mails."""
    ticket = session.execute(select(Ticket).where(Ticket.ref == key.upper())).scalar_one_or_none()
    if ticket is not None:
        return ticket
    mid = key.strip().strip("<>")
    ticket_id = session.execute(select(Message.ticket_id).where(Message.message_id == mid)
                                .limit(1)).scalar_one_or_none()
    return session.get(Ticket, ticket_id) if ticket_id else None


def run_show(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        ticket = find(session, args.ref)
        if ticket is None:
            print(f"no ticket {args.ref}")
            return 1
        view = ticket_detail(session, ticket)
    if args.json:
        print_json(view)
        return 0
    print_human(view)
    return 0


def print_human(view: dict) -> None:  # type: ignore[type-arg]
    print(f"{view['ref']}  {view['subject']}")
    for key in ("status", "type", "priority", "queue", "team", "assignee", "customer",
                "organisation", "tags", "created_at", "first_response_at", "related",
                "merged_into"):
        if view.get(key):
            print(f"  {key:<18}{view[key]}")
    for line in sla_lines(view.get("sla") or {}):
        print(f"  {line}")
    if view.get("time_spent_minutes"):
        hours, minutes = divmod(view["time_spent_minutes"], 60)
        print(f"  {'time spent':<18}{hours}h {minutes:02d}m")
    for line in participant_lines(view.get("participants") or []):
        print(f"  {line}")
    satisfaction = view.get("satisfaction")
    if satisfaction:
        comment = f" \"{satisfaction['comment']}\"" if satisfaction.get("comment") else ""
        print(f"  {'satisfaction':<18}{satisfaction['score']}/5{comment} ({satisfaction['at']})")
    for message in view["messages"]:
        flag = "  [FLAGGED: " + (message["flag_reason"] or "") + "]" if message["flagged"] else ""
        weak = " (weak)" if message["weak_match"] else ""
        kind, sender = message["kind"], message["from"]
        if message.get("author_role") == "participant":  # their words, not the customer's
            kind = "participant"
            sender = f"{message['from_name']} <{sender}>" if message.get("from_name") else sender
        print(f"\n--- {message['date']}  {message['direction']}/{kind}  "
              f"{sender}  threaded by {message['threaded_by']}{weak}{flag}")
        if message.get("evidence"):
            print(f"    evidence: {message['evidence']}")
        for line in delivery_lines(message.get("deliveries") or []):
            print(f"    {line}")
        print(message["text"].strip()[:2000])
        for att in message["attachments"]:
            print(f"  [attachment] {att['filename']} ({att['content_type']}, {att['size']} B)")
    if view.get("events"):
        print("\n--- events")
        for event in view["events"]:
            reason = f" ({event['reason']})" if event.get("reason") else ""
            print(f"  {event['at']}  {event['actor']}  {event['action']}{reason}")


def participant_lines(people: list) -> list[str]:  # type: ignore[type-arg]
    """Pure: one line per participant, the removed ones marked."""
    lines = []
    for person in people:
        name = f"{person['name']} <{person['email']}>" if person.get("name") else person["email"]
        state = "" if person["active"] else f"  (removed by {person['removed_by']})"
        lines.append(f"{'participant':<18}{name}  [{person['source']}]{state}")
    return lines


def delivery_lines(deliveries: list) -> list[str]:  # type: ignore[type-arg]
    """Pure: who received a mail, recipient by recipient ("to x: sent")."""
    return [f"{d['role']} {d['address']}: {d['state']}" + (f" ({d['error']})" if d.get("error")
                                                            and d["state"] != "sent" else "")
            for d in deliveries]


def sla_lines(sla: dict) -> list[str]:  # type: ignore[type-arg]
    """Pure: the SLA targets of a ticket view, one line each, breaches marked."""
    lines = []
    for target in ("response", "resolution"):
        due, breached = sla.get(f"{target}_due_at"), sla.get(f"{target}_breached_at")
        if due or breached:
            late = f"  BREACHED at {breached}" if breached else ""
            lines.append(f"{target + ' due':<18}{due or '-'}{late}")
    if sla.get("escalation_level"):
        lines.append(f"{'escalation level':<18}{sla['escalation_level']}")
    return lines


def _read_text(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")


def _plan_for(args: argparse.Namespace, ruleset: RuleSet) -> tuple[Plan, str]:
    """The same Plan a mail would give: parsed for reply, fixed for note/close/assign."""
    command = args.tickets_command
    if command == "reply":
        return Plan(), ""  # read with the ticket at hand: run_agent_action
    if command == "note":
        text = _read_text(args.file).strip()
        return replace(Plan(note=True), errors=body_errors(Plan(note=True), text)), text
    if command == "close":
        return Plan(status=TicketStatus.CLOSED), ""
    if command == "cc":
        cc = Command(CommandName.CC, f"{args.action} {args.address}", f"#cc {args.action} "
                     f"{args.address}")
        return plan_commands([cc], ruleset), ""
    assign = Command(CommandName.ASSIGN, args.target, f"assign {args.target}")
    return plan_commands([assign], ruleset), ""


def run_agent_action(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    ruleset = desk.ruleset
    agent = find_agent(ruleset, args.agent) if args.agent else ADMIN
    if agent is None:
        print(f"no agent {args.agent!r}", file=sys.stderr)
        return 2
    result, body = _plan_for(args, ruleset)
    with transaction(desk.sessions) as session:
        ticket = find(session, args.ref)
        if ticket is None:
            print(f"no ticket {args.ref}", file=sys.stderr)
            return 1
        ticket = live_ticket(session, ticket)  # a merged ticket's work goes to its target
        if args.tickets_command == "reply":  # with macros, which need the ticket
            work = Work(agent, cli_mail(agent, ticket, ""), desk.clock(), source="cli")
            block, result = read_commands(desk, session, ticket, work, _read_text(args.file))
            body = block.body
        applied = perform(desk, session, ticket, agent, result, body, source="cli")
        if not applied.applied:
            errors = applied.errors + applied.conflicts
            print("nothing applied:\n  " + "\n  ".join(errors), file=sys.stderr)
            return 2
        ref = ticket.ref
    print(f"{ref}: " + ("; ".join(applied.done) or "nothing to change"))
    return 0
