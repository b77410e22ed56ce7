"""`maildesk outbox list|show ID|flush|retry ID`: the desk's outgoing mail.

`show ID` prints the message (RFC 5322) as it goes or went out; a mail still queued
that the sender has not built yet is built from its draft for the display.

`flush` sends everything queued now, whatever its backoff (as `postqueue -f` does);
`retry ID` does the same for one mail (queueing it again first if it had failed), and
for the earlier mail to the same recipient about the same ticket, which goes first.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from maildesk.cli.common import EX_TEMPFAIL, desk_from, print_json, print_table
from maildesk.outbox.send import FlushResult, flush_once, make_due
from maildesk.runtime.desk import Desk
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
    show = actions.add_parser("show", help="print one outgoing mail (RFC 5322)")
    show.add_argument("id", type=int)
    show.set_defaults(handler=run_show)
    actions.add_parser("flush", help="send everything queued now, backoff or not").set_defaults(
        handler=run_flush)
    retry = actions.add_parser("retry", help="send one mail now (queueing it again if it failed)")
    retry.add_argument("id", type=int)
    retry.set_defaults(handler=run_retry)


def run_list(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
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


def run_show(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        row = session.get(Outbox, args.id)
        data = row.data if row is not None else None
    if data is None:
        print(f"outbox {args.id}: no such mail", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def _send_now(desk: Desk, only: int | None = None) -> FlushResult:
    """Make queued mail due, then pass until a pass leaves nothing more to claim."""
    make_due(desk.sessions, desk.clock(), only)
    total = FlushResult()
    while True:
        result = flush_once(desk.sessions, desk.config.relay, desk.clock(), desk.config.outbox)
        total = FlushResult(total.sent + result.sent, total.retrying + result.retrying,
                            total.failed + result.failed, result.unreachable or total.unreachable)
        if result.claimed < desk.config.outbox.batch or result.unreachable:
            return total


def _relay_note(desk: Desk, result: FlushResult) -> str:
    relay = desk.config.relay
    return (f"; relay {relay.host}:{relay.port} unreachable: {result.unreachable}"
            if result.unreachable else "")


def run_flush(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    result = _send_now(desk)
    print(f"sent {result.sent}, retrying {result.retrying}, failed {result.failed}"
          + _relay_note(desk, result))
    return EX_TEMPFAIL if result.unreachable else 0


def _requeue(desk: Desk, outbox_id: int) -> str | None:
    """Queue a failed, bounced or held-back mail again; its previous state, or None."""
    with transaction(desk.sessions) as session:
        row = session.get(Outbox, outbox_id)
        if row is None or row.state == OutboxState.SENT:
            return None
        previous = row.state
        if previous == OutboxState.QUEUED:
            return previous
        row.state, row.next_attempt_at, row.attempts = OutboxState.QUEUED, utcnow(), 0
        if row.ticket_id is not None:
            log_event(session, row.ticket_id, "admin", "delivery-retry",
                      {"outbox_id": row.id, "was": previous}, "queued again by an admin")
    return previous


def run_retry(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    previous = _requeue(desk, args.id)
    if previous is None:
        print(f"outbox {args.id}: nothing to retry (no such mail, or already sent)")
        return 1
    result = _send_now(desk, args.id)
    with desk.sessions() as session:
        row = session.get(Outbox, args.id)
        state, error = (row.state, row.last_error) if row is not None else ("?", None)
    if state == OutboxState.SENT:
        print(f"outbox {args.id}: sent (was {previous})")
        return 0
    print(f"outbox {args.id}: still {state}: {error or '-'}" + _relay_note(desk, result))
    return 1
