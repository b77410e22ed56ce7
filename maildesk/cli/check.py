"""`maildesk check`: validate the config, rules and templates; exit 1 on any error."""

from __future__ import annotations

import argparse
import sys

from maildesk.config.model import find_config, load_config
from maildesk.errors import ConfigError, Problem
from maildesk.runtime.checks import validate_all


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("check", help="validate maildesk.toml, rules/ and templates/")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = find_config(args.config)
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
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"{path}: OK")
    return 0
