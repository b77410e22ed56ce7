"""Entry point: `maildesk COMMAND`. The only module that exits.

Each command group lives in maildesk/commands/ and exposes `register(subparsers)`;
the list below is the one place that names them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from . import __version__
from .commands import (
    base,
    db,
    fetch,
    importer,
    ingest,
    init,
    kb,
    outbox,
    quarantine,
    report,
    rules,
    run,
    status,
    tick,
    tickets,
)
from .errors import ConfigError, TemporaryFailure

EX_OK, EX_ERROR, EX_USAGE, EX_TEMPFAIL, EX_CONFIG = 0, 1, 64, 75, 78

COMMANDS = [init, base, db, ingest, run, fetch, status, tickets, outbox, quarantine, rules,
            importer, kb, report, tick]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maildesk",
                                     description="maildesk: an email-centric help desk")
    parser.add_argument("--config", "-c", metavar="PATH",
                        help="maildesk.toml (default: $MAILDESK_CONFIG, then ./maildesk.toml)")
    parser.add_argument("--log-level", default=os.environ.get("MAILDESK_LOG_LEVEL", "INFO"))
    parser.add_argument("--version", action="version", version=f"maildesk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        code = args.handler(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        code = EX_CONFIG
    except TemporaryFailure as exc:
        print(f"maildesk: temporary failure, try again later: {exc}", file=sys.stderr)
        code = EX_TEMPFAIL
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
