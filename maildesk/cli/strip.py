"""`maildesk strip FILE.eml ... [--json]`: what the desk keeps as the author's new words.

Shows admins why an answer looks the way it does on a ticket: the text after quoted
history, reply headers and the trailing signature are cut (maildesk/mail/quotes.py).
No configuration or database is needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maildesk.cli.common import print_json
from maildesk.errors import PermanentFailure
from maildesk.mail.parse import parse
from maildesk.mail.quotes import author_text


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("strip", help="show the author's new words in messages")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.eml")
    parser.add_argument("--json", action="store_true",
                        help='a list of {"file", "text"}')
    parser.set_defaults(handler=run_strip)


def run_strip(args: argparse.Namespace) -> int:
    results: list[dict[str, str]] = []
    failed = False
    for path in args.files:
        try:
            results.append({"file": str(path), "text": author_text(parse(path.read_bytes()))})
        except (OSError, PermanentFailure) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            failed = True
    if args.json:
        print_json(results)
    else:
        for index, result in enumerate(results):
            print(("\n" if index else "") + f"==> {result['file']} <==")
            print(result["text"])
    return 1 if failed else 0
