"""`maildesk outbox list|flush|retry ID`: the desk's outgoing mail."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from maildesk.cli.common import desk_from, print_json, print_table
from maildesk.outbox.send import flush_once
from maildesk.store.db import transaction
from maildesk.store.models import Outbox, Ticket, utcnow
from maildesk.store.queries import log_event
from maildesk.types import OutboxState


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("outbox", help="outgoing mail: list, send now, retry")
    actions = parser.add_subparsers(dest="outbox_command", required=True)
    ls = actions.add_parser("list", help="outgoing mail, newest first")
    ls.add_argument("--state", choices=[s.value for s in OutboxState])
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    actions.add_parser("flush", help="deliver what is due, once (cron mode)").set_defaults(
        handler=run_flush)
    retry = actions.add_parser("retry", help="queue a failed or held-back mail again")
    retry.add_argument("id", type=int)
    retry.set_defaults(handler=run_retry)


def run_list(args: argparse.Namespace) -> int:
    desk = desk_from(args)
    query = (select(Outbox, Ticket.ref).outerjoin(Ticket, Ticket.id == Outbox.ticket_id)
             .order_by(Outbox.id.desc()).limit(args.limit))
    if args.state:
        query = query.where(Outbox.state == args.state)
    with desk.sessions() as session:
        rows = [{"id": o.id, "ticket": ref, "kind": o.kind, "to": ", ".join(o.recipients),
                 "state": o.state, "attempts": o.attempts,
                 "created_at": o.created_at.isoformat(),
                 "sent_at": o.sent_at.isoformat() if o.sent_at else None,
                 "error": o.last_error} for o, ref in session.execute(query)]
    if args.json:
        print_json(rows)
    else:
        print_table(["id", "ticket", "kind", "to", "state", "attempts", "error"],
                    [[r[k] for k in ("id", "ticket", "kind", "to", "state", "attempts",
                                     "error")] for r in rows])
    return 0


def run_flush(args: argparse.Namespace) -> int:
    desk = desk_from(args)
    result = flush_once(desk.sessions, desk.config.relay, desk.clock(), desk.config.outbox)
    print(f"sent {result.sent}, retrying {result.retrying}, failed {result.failed}")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    desk = desk_from(args)
    with transaction(desk.sessions) as session:
        row = session.get(Outbox, args.id)
        if row is None or row.state in (OutboxState.QUEUED, OutboxState.SENT):
            print(f"outbox {args.id}: nothing to retry")
            return 1
        previous = row.state
        row.state, row.next_attempt_at, row.attempts = OutboxState.QUEUED, utcnow(), 0
        if row.ticket_id is not None:
            log_event(session, row.ticket_id, "admin", "delivery-retry",
                      {"outbox_id": row.id, "was": previous}, "queued again by an admin")
    print(f"outbox {args.id}: queued again (was {previous})")
    return 0
