"""`maildesk tickets list|show`: look at tickets from the command line."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from ..store.models import Contact, Message, Ticket
from ..views import ticket_detail, ticket_summary
from .common import desk_from, print_json, print_table


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


def run_list(args: argparse.Namespace) -> int:
    desk = desk_from(args)
    query = select(Ticket, Contact).join(Contact, Contact.id == Ticket.customer_id)
    if args.status:
        query = query.where(Ticket.status.in_(args.status))
    if args.queue:
        query = query.where(Ticket.queue == args.queue)
    if args.assignee:
        query = query.where(Ticket.assignee == args.assignee.lower())
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
    desk = desk_from(args)
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
                "organisation", "tags", "created_at", "first_response_at", "related"):
        if view.get(key):
            print(f"  {key:<18}{view[key]}")
    for message in view["messages"]:
        flag = "  [FLAGGED: " + (message["flag_reason"] or "") + "]" if message["flagged"] else ""
        weak = " (weak)" if message["weak_match"] else ""
        print(f"\n--- {message['date']}  {message['direction']}/{message['kind']}  "
              f"{message['from']}  threaded by {message['threaded_by']}{weak}{flag}")
        print(message["text"].strip()[:2000])
        for att in message["attachments"]:
            print(f"  [attachment] {att['filename']} ({att['content_type']}, {att['size']} B)")
