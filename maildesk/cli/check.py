"""`maildesk check [--connect]`: validate the config, rules and templates; with --connect,
also reach the database, the relay and each IMAP account. Exit 1 on any problem."""

from __future__ import annotations

import argparse
import sys

from maildesk.cli.common import missing_config
from maildesk.config.model import find_config, load_config
from maildesk.errors import ConfigError, Problem
from maildesk.runtime.checks import validate_all


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("check", help="validate maildesk.toml, rules/ and templates/")
    parser.add_argument("--connect", action="store_true",
                        help="also connect to the database, the relay and each IMAP account")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = find_config(args.config)
    if not path.exists():
        print(missing_config(path, args.config), file=sys.stderr)
        return 1
    problems: list[Problem] = []
    try:
        config = load_config(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        config = None
    if config is not None:
        problems.extend(validate_all(config))
    for problem in problems:
        print(problem, file=sys.stderr)
    failed = bool(problems)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
    else:
        print(f"{path}: OK")
    if args.connect and config is not None:
        failed = _connect(config) or failed
    return 1 if failed else 0


def _connect(config) -> bool:  # type: ignore[no-untyped-def]
    """Print one line per server reached; True when any failed."""
    from maildesk.runtime.probes import probe_all

    probes = probe_all(config)
    for probe in probes:
        print(probe, file=sys.stdout if probe.error is None else sys.stderr)
    return any(probe.error is not None for probe in probes)
