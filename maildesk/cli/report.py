"""`maildesk report`: how the desk is doing, as text, CSV, JSON or one HTML page."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from maildesk.cli.common import desk_from
from maildesk.reports import FORMATS, build, render


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="volume, times, SLA, backlog, agents, satisfaction",
                            description="Figures for the tickets created between --from and "
                                        "--to (local days, inclusive; default: last 30 days).")
    parser.add_argument("--from", dest="first_day", type=_date, metavar="DATE")
    parser.add_argument("--to", dest="last_day", type=_date, metavar="DATE")
    parser.add_argument("--queue", "-q")
    parser.add_argument("--brand", help="only tickets of this [[brands]] name")
    parser.add_argument("--format", "-f", choices=FORMATS, default="text")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write here instead of standard output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.first_day and args.last_day and args.first_day > args.last_day:
        print("maildesk report: --from is after --to", file=sys.stderr)
        return 64
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        report = build(session, timezone=desk.config.desk.timezone, now=desk.clock(),
                       first_day=args.first_day, last_day=args.last_day, queue=args.queue,
                       brand=args.brand)
    output = render(report, args.format)
    if args.output:
        args.output.write_text(output, encoding="utf-8")
        print(f"report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(output)
    return 0
