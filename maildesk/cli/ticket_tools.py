"""`maildesk tickets time|search`: log time spent, find tickets by what their mail says."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from maildesk.agents import timelog
from maildesk.agents.actions import ADMIN
from maildesk.agents.commands import find_agent
from maildesk.cli.common import desk_from, print_json, print_table
from maildesk.store.db import transaction
from maildesk.store.queries import log_event
from maildesk.tickets.search import Filters, search


def register(actions: argparse._SubParsersAction) -> None:
    time = actions.add_parser("time", help="log time spent on a ticket (30m, 1h15m, 45)")
    time.add_argument("ref")
    time.add_argument("duration", help="45 (minutes), 30m, 1h, 1h15m")
    time.add_argument("--as", dest="agent", required=True, help="agent e-mail or name")
    time.set_defaults(handler=run_time)
    find = actions.add_parser("search", help="find tickets by the words of their mail")
    find.add_argument("query")
    find.add_argument("--status", action="append", help="only this status (repeatable)")
    find.add_argument("--customer", help="the customer's e-mail, or part of it or their name")
    find.add_argument("--limit", type=int, default=50)
    find.add_argument("--json", action="store_true")
    find.set_defaults(handler=run_search)


def run_time(args: argparse.Namespace) -> int:
    from maildesk.cli.tickets import find

    desk = desk_from(args, lenient=True)
    agent = find_agent(desk.ruleset, args.agent) if args.agent else ADMIN
    if agent is None:
        print(f"no agent {args.agent!r}", file=sys.stderr)
        return 2
    error = timelog.minutes_error(args.duration)
    if error:
        print(f"{args.duration}: {error}", file=sys.stderr)
        return 2
    minutes = timelog.parse_minutes(args.duration) or 0
    with transaction(desk.sessions) as session:
        ticket = find(session, args.ref)
        if ticket is None:
            print(f"no ticket {args.ref}", file=sys.stderr)
            return 1
        timelog.record(session, ticket, agent.email, minutes, desk.clock(), "cli")
        log_event(session, ticket.id, agent.email, "agent-cli", {"command": "time"},
                  at=desk.clock())
        ref, spent = ticket.ref, timelog.total(session, ticket)
    print(f"{ref}: time logged: {timelog.format_minutes(minutes)} "
          f"(total {timelog.format_minutes(spent)})")
    return 0


def run_search(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    filters = Filters(tuple(args.status or ()), args.customer, max(1, args.limit))
    with desk.sessions() as session:
        hits = search(session, args.query, filters)
    if args.json:
        print_json([asdict(hit) for hit in hits])
        return 0
    if not hits:
        print("no ticket matches")
        return 0
    print_table(["ref", "status", "customer", "subject", "excerpt"],
                [[h.ref, h.status, h.customer, h.subject, h.excerpt] for h in hits])
    return 0
