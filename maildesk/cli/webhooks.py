"""`maildesk webhooks list|deliveries|retry`: the hooks, their queue, and a way to resume."""

from __future__ import annotations

import argparse
import sys

from maildesk.cli.common import desk_from, print_json, print_table
from maildesk.store.db import transaction
from maildesk.webhooks import queue


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("webhooks", help="outgoing webhooks: hooks, deliveries, retry")
    actions = parser.add_subparsers(dest="webhooks_command", required=True)
    ls = actions.add_parser("list", help="configured hooks: queue, failures, paused")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    shown = actions.add_parser("deliveries", help="recent deliveries, newest first")
    shown.add_argument("--hook")
    shown.add_argument("--state", choices=(queue.QUEUED, queue.DELIVERED))
    shown.add_argument("--limit", type=int, default=50)
    shown.add_argument("--json", action="store_true")
    shown.set_defaults(handler=run_deliveries)
    retry = actions.add_parser("retry", help="resume a paused hook and send its queue now")
    retry.add_argument("id", nargs="?", type=int, help="one delivery (a delivered one is "
                                                       "sent again)")
    retry.add_argument("--hook", help="only this hook (default: every hook)")
    retry.set_defaults(handler=run_retry)


def run_list(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        rows = queue.overview(session, desk.config.webhooks)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no [[webhooks]] configured")
        return 0
    print_table(["name", "url", "events", "queued", "failures", "state", "last error"],
                [[r["name"], r["url"], ",".join(r["events"]), r["queued"], r["failures"],
                  f"PAUSED since {r['paused_at']}" if r["paused_at"] else "running",
                  r["last_error"] or "-"] for r in rows])
    return 0


def run_deliveries(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        rows = queue.deliveries(session, hook=args.hook, state=args.state, limit=args.limit)
    if args.json:
        print_json(rows)
        return 0
    print_table(["id", "hook", "event", "ticket", "state", "attempts", "last", "next attempt"],
                [[r["id"], r["hook"], r["event"], r["ticket"] or "-", r["state"], r["attempts"],
                  r["last_error"] or (r["last_status"] or "-"),
                  r["next_attempt_at"] if r["state"] == queue.QUEUED else "-"] for r in rows])
    return 0


def run_retry(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    names = {h.name for h in desk.config.webhooks}
    if args.hook and args.hook not in names:
        print(f"no hook {args.hook!r} (hooks: {', '.join(sorted(names)) or 'none'})",
              file=sys.stderr)
        return 1
    with transaction(desk.sessions) as session:
        count = queue.retry(session, desk.clock(), hook=args.hook, delivery=args.id)
    if args.id is not None and not count:
        print(f"no delivery {args.id}", file=sys.stderr)
        return 1
    print(f"{count} deliver{'y' if count == 1 else 'ies'} due now; paused hooks resumed")
    return 0
