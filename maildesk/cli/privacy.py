"""`maildesk privacy export|erase EMAIL`: answer access and erasure requests (docs/privacy.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from maildesk.cli.common import desk_from
from maildesk.privacy.erase import compact, erase, remove_files
from maildesk.privacy.export import export
from maildesk.privacy.holdings import find


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("privacy", help="export or erase what the desk holds about a person")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    out = actions.add_parser("export", help="contact, tickets, messages, raw mail (mbox), "
                                            "attachments, surveys and events, into a folder")
    out.add_argument("email")
    out.add_argument("--out", type=Path, metavar="DIR",
                     help="folder to write (default: ./privacy-export-EMAIL)")
    out.set_defaults(handler=run_export)
    gone = actions.add_parser("erase", help="remove their data, pseudonymise what reports need")
    gone.add_argument("email")
    gone.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    gone.set_defaults(handler=run_erase)


def run_export(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    folder = args.out or Path(f"privacy-export-{args.email.strip().lower()}")
    with desk.sessions() as session:
        held = find(session, args.email)
        if held.empty:
            print(f"maildesk privacy: nothing held about {held.email}", file=sys.stderr)
        counts = export(session, held, folder, desk.attachments_root)
    print(f"exported to {folder}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def run_erase(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        held = find(session, args.email)
        if held.empty:
            print(f"maildesk privacy: nothing held about {held.email}")
            return 0
        done = erase(session, desk.secret(), held, desk.clock(),
                     quarantine_dir=desk.quarantine_dir, attachments_root=desk.attachments_root)
        if args.dry_run:
            session.rollback()  # a dry run is the real erasure, undone
        else:
            session.commit()
    summary = done.as_dict()
    if args.dry_run:
        print("would erase: " + json.dumps(summary))
        return 0
    remove_files(done.files)
    compact(desk.engine)
    print("erased: " + json.dumps(summary))
    return 0
