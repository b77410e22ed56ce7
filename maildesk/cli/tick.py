"""`maildesk tick [--now ISO-TIME]`: run one pass of the SLA and reminder timers and exit.

For cron instead of the daemon's timer loop, and for tests and rehearsals, which move
time with --now. Running it twice at the same instant does nothing the second time.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from maildesk.cli.common import desk_from, print_json
from maildesk.sla.scheduler import tick


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tick", help="run the SLA and reminder timers once")
    parser.add_argument("--now", type=parse_now, metavar="ISO-TIME",
                        help="act as if it were this time (default: now); without a "
                             "UTC offset the time is UTC")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    desk = desk_from(args)
    try:
        result = tick(desk, args.now or desk.clock())
    finally:
        desk.close()
    if args.json:
        print_json({"now": result.now, "checked": result.checked, "skipped": result.skipped,
                    "failed": result.failed,
                    "actions": [{"ref": a.ref, "kind": a.kind, "due_at": a.due_at,
                                 "detail": a.detail} for a in result.actions]})
    else:
        for action in result.actions:
            print(f"{action.ref}  {action.kind:<18} due {action.due_at.isoformat()}  "
                  f"{action.detail}")
        print(f"{len(result.actions)} action(s) on {result.checked} ticket(s)"
              + (f", {result.skipped} busy" if result.skipped else "")
              + (f", {result.failed} failed" if result.failed else ""))
    return 1 if result.failed else 0
