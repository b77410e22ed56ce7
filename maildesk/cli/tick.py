"""`maildesk tick [--now ISO-TIME] [--dry-run]`: one pass of the SLA and reminder timers.

For cron instead of the daemon's timer loop, and for tests and rehearsals, which move
time with --now. Running it twice at the same instant does nothing the second time.
--dry-run prints what the pass would do and writes nothing: the same planner, without
claiming or applying an action.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime

from maildesk.cli.common import desk_from, print_json
from maildesk.privacy import retention
from maildesk.runtime.desk import Desk
from maildesk.sla.planner import plan_timers
from maildesk.sla.scheduler import (
    BATCH,
    Done,
    TickResult,
    candidate_batches,
    marks,
    tick,
    ticket_view,
)
from maildesk.store.models import Ticket


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tick", help="run the SLA and reminder timers once")
    parser.add_argument("--now", type=parse_now, metavar="ISO-TIME",
                        help="act as if it were this time (default: now); without a "
                             "UTC offset the time is UTC")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would happen; send and change nothing")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def preview(desk: Desk, now: datetime) -> TickResult:
    """What tick() would do at `now`, read only: the planner's actions, none applied."""
    checked, actions = 0, []
    for ids in candidate_batches(desk, BATCH):
        with desk.sessions() as session:
            for ticket_id in ids:
                ticket = session.get(Ticket, ticket_id)
                if ticket is None:
                    continue
                checked += 1
                for action in plan_timers(ticket_view(session, ticket), desk.sla, now,
                                          marks(session, ticket_id)):
                    actions.append(Done(ticket.ref, action.kind.value, action.due_at,
                                        "would run (dry run)"))
    return TickResult(now, checked, tuple(actions))


def run(args: argparse.Namespace) -> int:
    desk = desk_from(args)
    try:
        now = args.now or desk.clock()
        result = preview(desk, now) if args.dry_run else tick(desk, now)
        # Cron mode runs [retention] too, as the daemon's worker does.
        kept = retention.apply(desk, now) if desk.config.retention.enabled and \
            not args.dry_run else None
    finally:
        desk.close()
    if args.json:
        print_json({"now": result.now, "checked": result.checked, "skipped": result.skipped,
                    "failed": result.failed,
                    "actions": [{"ref": a.ref, "kind": a.kind, "due_at": a.due_at,
                                 "detail": a.detail} for a in result.actions]}
                   | ({"retention": asdict(kept)} if kept else {}))
    else:
        for action in result.actions:
            print(f"{action.ref}  {action.kind:<18} due {action.due_at.isoformat()}  "
                  f"{action.detail}")
        print(("dry run: " if args.dry_run else "")
              + f"{len(result.actions)} action(s) on {result.checked} ticket(s)"
              + (f", {result.skipped} busy" if result.skipped else "")
              + (f", {result.failed} failed" if result.failed else ""))
        if kept:
            print(f"retention: purged raw {kept.raw}, attachments {kept.attachments}; "
                  f"erased customers {kept.customers}")
    return 1 if result.failed else 0
