"""Entry point: `maildesk COMMAND`. The only module that exits.

Each command group lives in a module of maildesk/cli/ and exposes `register(subparsers)`;
COMMANDS below is the one place that names them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from maildesk import __version__
from maildesk.errors import ConfigError, TemporaryFailure

EX_OK, EX_ERROR, EX_USAGE, EX_TEMPFAIL, EX_CONFIG = 0, 1, 64, 75, 78

# Command word -> module in maildesk.cli. Only the module of the command being run
# is imported: an MTA runs `maildesk ingest` once per mail, and it should not pay for
# the daemon's or the web endpoint's imports.
COMMANDS = {
    "init": "init", "check": "check", "db": "db", "ingest": "ingest", "run": "run",
    "fetch": "fetch", "status": "status", "tickets": "tickets", "outbox": "outbox",
    "quarantine": "quarantine", "rules": "rules", "import": "importing", "kb": "kb",
    "report": "report", "tick": "tick", "secret": "secret", "auth": "auth",
    "strip": "strip", "macros": "macros", "thread": "thread", "api": "api",
    "webhooks": "webhooks", "privacy": "privacy",
}


def _wanted(argv: Sequence[str]) -> list[str]:
    """The module of the command word in argv, or all of them (for help and errors)."""
    words = [a for i, a in enumerate(argv)
             if not a.startswith("-") and (i == 0 or argv[i - 1] not in
                                           ("--config", "-c", "--log-level"))]
    if words and words[0] in COMMANDS:
        return [COMMANDS[words[0]]]
    return list(dict.fromkeys(COMMANDS.values()))


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maildesk",
                                     description="maildesk: an email-centric help desk")
    parser.add_argument("--config", "-c", metavar="PATH",
                        help="maildesk.toml (default: $MAILDESK_CONFIG, then ./maildesk.toml)")
    parser.add_argument("--log-level", default=os.environ.get("MAILDESK_LOG_LEVEL", "INFO"))
    parser.add_argument("--version", action="version", version=f"maildesk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _wanted(argv):
        importlib.import_module(f"maildesk.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
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
