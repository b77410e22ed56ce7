"""`maildesk ingest [FILE ...]`: store mail from files or stdin (an MTA pipe transport).

Exit 0 once each message is durably stored (a mail the pipeline cannot handle is kept in
quarantine: still 0, nothing is lost), 75 (EX_TEMPFAIL) when storage is unavailable so
the MTA queues the message and retries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maildesk.cli.common import desk_from
from maildesk.errors import ConfigError, TemporaryFailure
from maildesk.mail.addresses import normalise_address
from maildesk.pipeline.flow import Accepted, accept, recover
from maildesk.types import RawMail, Source

EX_TEMPFAIL = 75


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ingest", help="store and process mail from files or stdin")
    parser.add_argument("files", nargs="*", type=Path, help="RFC 5322 files (default: stdin)")
    parser.add_argument("--sender", "-f", help="envelope sender (Postfix: ${sender})")
    parser.add_argument("--recipient", "-r", action="append", default=[],
                        help="envelope recipient (Postfix: ${recipient}); repeatable")
    parser.set_defaults(handler=run)


def _inputs(args: argparse.Namespace) -> list[tuple[bytes, Source, str | None]]:
    if not args.files:
        return [(sys.stdin.buffer.read(), Source.PIPE, None)]
    return [(path.read_bytes(), Source.CLI, str(path)) for path in args.files]


def _describe(result: Accepted) -> str:
    if result.outcome is None:
        return "duplicate" if result.duplicate else "stored, processing deferred"
    return f"{result.outcome.kind} {result.outcome.ref or ''}".rstrip()


def run(args: argparse.Namespace) -> int:
    inputs = _inputs(args)
    try:
        desk = desk_from(args)
        for data, source, ref in inputs:
            raw = RawMail(data=data, source=source, envelope_from=args.sender,
                          envelope_to=tuple(normalise_address(r) for r in args.recipient), source_ref=ref,
                          received_at=None)
            print(f"{ref or 'stdin'}: {_describe(accept(desk, raw))}")
        recover(desk)
    except TemporaryFailure as exc:
        print(f"maildesk ingest: storage unavailable, try again later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except ConfigError as exc:
        # A broken rule or template must not bounce customers' mail: the MTA keeps it
        # queued until the admin has fixed the files.
        print(f"maildesk ingest: configuration error, try again later:\n{exc}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0
