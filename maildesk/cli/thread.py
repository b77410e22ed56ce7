"""`maildesk thread test MAIL.eml [--json]`: which ticket a mail would join, and why.

Against the live database, with the same lookups and policy as the `thread` stage, and
nothing written: the session is rolled back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from maildesk.cli.common import desk_from, print_json
from maildesk.cli.tick import parse_now
from maildesk.mail.loops import is_own_mail
from maildesk.mail.parse import parse
from maildesk.runtime.desk import Desk
from maildesk.store.queries import make_lookups
from maildesk.tickets.thread_explain import Explanation, explain
from maildesk.types import ParsedMail


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("thread", help="explain threading decisions")
    actions = parser.add_subparsers(dest="thread_command", required=True)
    test = actions.add_parser("test", help="which ticket a mail would join and why (no writes)")
    test.add_argument("message", type=Path, metavar="MAIL.eml")
    test.add_argument("--json", action="store_true")
    test.add_argument("--to", action="append", default=[], metavar="ADDRESS",
                      help="an envelope recipient (repeatable), e.g. support+MD-7@...")
    test.add_argument("--at", type=parse_now, metavar="ISO-TIME",
                      help="decide as at this time (default: now)")
    test.set_defaults(handler=run_test)


def run_test(args: argparse.Namespace) -> int:
    try:
        data = args.message.read_bytes()
    except OSError as exc:
        print(f"{args.message}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    desk = desk_from(args, lenient=True)
    mail = parse(data)
    with desk.sessions() as session:
        found = explain(mail, args.to, args.at or desk.clock(), desk.thread_policy(),
                        make_lookups(session))
        related = make_lookups(session).by_id(found.match.related_ticket_id) \
            if found.match.related_ticket_id else None
        session.rollback()
    view = as_dict(found, related.ref if related else None, notes(desk, mail))
    if args.json:
        print_json(view)
    else:
        print_human(view)
    return 0


def notes(desk: Desk, mail: ParsedMail) -> list[str]:
    """What decides before or after threading, for this mail."""
    found = []
    if is_own_mail(mail, desk.config.desk.addresses):
        found.append("this is the desk's own mail: the screen stage ignores it")
    sender = mail.from_addr.email if mail.from_addr else ""
    agent = desk.ruleset.agent_for(sender) if sender else None
    if agent is not None:
        found.append(f"From is agent {agent.email}: a proven agent's mail acts on the ticket "
                     "its signed reply address names")
    return found


def as_dict(found: Explanation, related: str | None, extra: list[str]) -> dict[str, Any]:
    match = found.match
    return {
        "decision": "reopen" if match.reopen else "join" if found.ref else "new",
        "ticket": found.ref, "method": str(match.method), "weak": match.weak,
        "evidence": match.evidence, "note": match.note, "related": related,
        "steps": [{"step": s.name, "result": str(s.result), "detail": s.detail}
                  for s in found.steps],
        "rejected": [{"ticket": r.ref, "step": r.step, "why": r.why} for r in found.rejected],
        "notes": extra,
    }


def print_human(view: dict[str, Any]) -> None:
    target = view["ticket"] or "a new ticket"
    weak = " (weak)" if view["weak"] else ""
    print(f"decision: {view['decision']} -> {target}  [{view['method']}{weak}]")
    if view["evidence"]:
        print(f"evidence: {view['evidence']}")
    if view["related"]:
        print(f"linked to: {view['related']}  ({view['note']})")
    print("steps:")
    for number, step in enumerate(view["steps"], 1):
        print(f"  {number}. {step['step']:<14}{step['result']:<13}{step['detail']}")
    if view["rejected"]:
        print("rejected:")
        for rejected in view["rejected"]:
            print(f"  {rejected['ticket']:<10}{rejected['step']}: {rejected['why']}")
    for note in view["notes"]:
        print(f"note: {note}")
