"""`maildesk rules check`, `maildesk rules test MESSAGE.eml [--at TIME] [--json]` and
`maildesk rules diff [--since 30d] [--json]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from maildesk.cli.common import config_from
from maildesk.cli.tick import parse_now
from maildesk.config.reader import parse_duration
from maildesk.errors import ConfigError
from maildesk.rules.check import check_command, test_command
from maildesk.runtime.desk import load_templates
from maildesk.sla.load import load_sla


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rules", help="validate rules or try them on a message")
    actions = parser.add_subparsers(dest="rules_command", required=True)
    actions.add_parser("check", help="validate rules/*.yaml").set_defaults(handler=run_check)
    test = actions.add_parser("test", help="dry run: which rules a message hits")
    test.add_argument("message", type=Path)
    test.add_argument("--json", action="store_true")
    test.add_argument("--follow-up", action="store_true", help="treat it as a reply")
    test.add_argument("--at", type=parse_now, metavar="ISO-TIME",
                      help="evaluate time conditions at this time (default: the mail's "
                           "Date, else now); without a UTC offset the time is UTC")
    test.set_defaults(handler=run_test)
    diff = actions.add_parser("diff", help="replay the current rules over past mail and "
                                           "list what they would set differently (no writes)")
    diff.add_argument("--since", type=_period, default=_period("30d"), metavar="DURATION",
                      help="mail received in this last period: 30d (default), 12h, 2w")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(handler=run_diff)


def _period(value: str) -> int:
    seconds = parse_duration(value)
    if not seconds:
        raise argparse.ArgumentTypeError(f"expected a duration like 30d, 12h or 2w, got {value!r}")
    return seconds


def _known(config) -> tuple[set[str] | None, set[str] | None]:  # type: ignore[no-untyped-def]
    try:
        templates = set(load_templates(config).names()) | {"none"}
    except ConfigError:
        templates = None
    try:
        policies = set(load_sla(config.rules_dir, config.desk.timezone).policies)
    except ConfigError:
        policies = None
    return templates, policies


def run_check(args: argparse.Namespace) -> int:
    config = config_from(args)
    templates, policies = _known(config)
    return check_command(config, templates=templates, sla_policies=policies)


def run_diff(args: argparse.Namespace) -> int:
    """Strict about the rules: a broken file is reported (exit 78), never replayed."""
    from datetime import timedelta

    from maildesk.cli.common import desk_from, print_json
    from maildesk.rules.replay import render_replayed, replay, replayed_to_dict
    from maildesk.tickets.split import rule_context

    desk = desk_from(args)
    since = desk.clock() - timedelta(seconds=args.since)
    with desk.sessions() as session:
        result = replay(session, desk.ruleset, since,
                        lambda contact, now, follow_up: rule_context(desk, contact, now,
                                                                     follow_up))
        session.rollback()
    if args.json:
        print_json(replayed_to_dict(result))
    else:
        print(render_replayed(result))
    return 0


def run_test(args: argparse.Namespace) -> int:
    config = config_from(args)
    templates, _ = _known(config)
    return test_command(config, args.message, args.json, follow_up=args.follow_up,
                        templates=templates, now=args.at)
