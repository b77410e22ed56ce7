"""`maildesk quarantine list|show|retry`: mail the pipeline could not handle, kept whole."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from maildesk.cli.common import desk_from, print_json, print_table
from maildesk.pipeline.flow import retry_quarantined
from maildesk.store.models import RawMessage
from maildesk.types import RawState


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("quarantine", help="mail kept aside with its error")
    actions = parser.add_subparsers(dest="quarantine_command", required=True)
    ls = actions.add_parser("list")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="print the raw mail and its error")
    show.add_argument("id", type=int)
    show.set_defaults(handler=run_show)
    retry = actions.add_parser("retry", help="process again (all when no ID is given)")
    retry.add_argument("id", type=int, nargs="?")
    retry.set_defaults(handler=run_retry)


def _quarantined(session):  # type: ignore[no-untyped-def]
    return session.execute(select(RawMessage).where(RawMessage.state == RawState.QUARANTINED)
                           .order_by(RawMessage.id)).scalars().all()


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def run_list(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        rows = [{"id": r.id, "received_at": r.received_at.isoformat(), "source": r.source,
                 "message_id": r.message_id, "size": r.size, "attempts": r.attempts,
                 "error": _last_line(r.error)} for r in _quarantined(session)]
    if args.json:
        print_json(rows)
    else:
        print_table(["id", "received_at", "source", "message_id", "error"],
                    [[r[k] for k in ("id", "received_at", "source", "message_id", "error")]
                     for r in rows], max_width=60)
    return 0


def run_show(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        row = session.get(RawMessage, args.id)
        if row is None:
            print(f"no stored mail {args.id}", file=sys.stderr)
            return 1
        print(f"# state: {row.state}\n# error: {row.error}\n", file=sys.stderr)
        sys.stdout.buffer.write(row.data)
    return 0


def run_retry(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        ids = [args.id] if args.id else [r.id for r in _quarantined(session)]
    failed = 0
    for raw_id in ids:
        outcome = retry_quarantined(desk, raw_id)
        kind = outcome.kind if outcome else "not in quarantine"
        failed += kind in ("quarantined", "not in quarantine")
        print(f"{raw_id}: {kind} {outcome.ref or '' if outcome else ''}".rstrip())
    return 1 if failed else 0
