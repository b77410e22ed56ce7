"""`maildesk tickets merge|unmerge|split|move`: repair what threading got wrong.

The same operations as #merge, #split and #move by mail (tickets/merge.py,
tickets/split.py), with the same checks; nothing is sent to any customer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from sqlalchemy.orm import Session

from maildesk.agents.actions import ADMIN
from maildesk.agents.commands import find_agent
from maildesk.agents.repair_actions import merged_line, moved_line, split_line
from maildesk.cli.common import desk_from
from maildesk.runtime.desk import Desk
from maildesk.store.db import transaction
from maildesk.store.models import Message, Ticket
from maildesk.tickets import merge as merging
from maildesk.tickets import operations as tickets
from maildesk.tickets import split as splitting

EX_NOT_FOUND, EX_REFUSED = 1, 2


def register_repair_actions(actions: argparse._SubParsersAction) -> None:
    merge = actions.add_parser("merge", help="merge SOURCE into INTO (no customer mail)")
    merge.add_argument("source")
    merge.add_argument("into")
    unmerge = actions.add_parser("unmerge", help="undo a merge while nothing new happened")
    unmerge.add_argument("ref", help="the ticket that was merged away")
    split = actions.add_parser("split", help="a message (and --following) becomes a new ticket")
    split.add_argument("ref")
    split.add_argument("message_id", metavar="MESSAGE-ID")
    split.add_argument("--following", action="store_true",
                       help="also take every message after it")
    move = actions.add_parser("move", help="move one message to another ticket")
    move.add_argument("message_id", metavar="MESSAGE-ID")
    move.add_argument("ref")
    for parser, handler in ((merge, run_merge), (unmerge, run_unmerge), (split, run_split),
                            (move, run_move)):
        parser.add_argument("--as", dest="agent", help="agent e-mail or name (for the log)")
        parser.set_defaults(handler=handler)


Action = Callable[[Desk, Session, str], str | int]


def _run(args: argparse.Namespace, action: Action) -> int:
    desk = desk_from(args, lenient=True)
    agent = find_agent(desk.ruleset, args.agent) if args.agent else ADMIN
    if agent is None:
        print(f"no agent {args.agent!r}", file=sys.stderr)
        return EX_REFUSED
    try:
        with transaction(desk.sessions) as session:
            result = action(desk, session, agent.email)
            if isinstance(result, int):
                raise _NotFound(result)
    except merging.RepairRefused as exc:
        print(f"nothing changed: {exc}", file=sys.stderr)
        return EX_REFUSED
    except _NotFound as exc:
        return exc.code
    print(result)
    return 0


class _NotFound(Exception):
    """Leaves the transaction without writing; the message is already printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _missing(what: str) -> int:
    print(f"no {what}", file=sys.stderr)
    return EX_NOT_FOUND


def run_merge(args: argparse.Namespace) -> int:
    def action(desk: Desk, session: Session, actor: str) -> str | int:
        source = tickets.find_ticket_by_ref(session, args.source)
        target = tickets.find_ticket_by_ref(session, args.into)
        if source is None or target is None:
            return _missing(f"ticket {args.source if source is None else args.into}")
        merged = merging.merge(session, source, target, actor=actor, now=desk.clock())
        return (f"{merged.source}: {merged_line(merged)} "
                f"({merged.messages} messages, {merged.keys} thread keys)")
    return _run(args, action)


def run_unmerge(args: argparse.Namespace) -> int:
    def action(desk: Desk, session: Session, actor: str) -> str | int:
        source = tickets.find_ticket_by_ref(session, args.ref)
        if source is None:
            return _missing(f"ticket {args.ref}")
        done = merging.unmerge(session, source, actor=actor, now=desk.clock())
        return (f"{done.source}: taken back out of {done.target} "
                f"({done.messages} messages, {done.keys} thread keys)")
    return _run(args, action)


def _ticket_and_message(session: Session,
                        args: argparse.Namespace) -> tuple[Ticket, Message] | int:
    """The ticket REF and the message MESSAGE-ID named on the command line, or exit 1."""
    ticket = tickets.find_ticket_by_ref(session, args.ref)
    if ticket is None:
        return _missing(f"ticket {args.ref}")
    message = splitting.find_message(session, args.message_id)
    if message is None:
        return _missing(f"message <{args.message_id.strip('<>')}>")
    return ticket, message


def run_split(args: argparse.Namespace) -> int:
    def action(desk: Desk, session: Session, actor: str) -> str | int:
        found = _ticket_and_message(session, args)
        if isinstance(found, int):
            return found
        ticket, message = found
        result = splitting.split(desk, session, ticket, message, following=args.following,
                                 actor=actor, now=desk.clock())
        return f"{result.old}: {split_line(result)}"
    return _run(args, action)


def run_move(args: argparse.Namespace) -> int:
    def action(desk: Desk, session: Session, actor: str) -> str | int:
        found = _ticket_and_message(session, args)
        if isinstance(found, int):
            return found
        target, message = found
        old = splitting.move(session, message, target, actor=actor, now=desk.clock())
        return f"{old}: {moved_line(message.message_id or '', target.ref)}"
    return _run(args, action)
