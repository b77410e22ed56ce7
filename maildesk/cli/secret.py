"""`maildesk secret rotate|status|address`: the signing keys behind tokens and links.

Rotation revokes every outstanding agent reply token and customer link once the grace
period ends (agents/keys.py); until then the old key still verifies what it signed.
"""

from __future__ import annotations

import argparse
import sys
import time

from maildesk.agents import keys
from maildesk.agents.commands import find_agent
from maildesk.agents.tokens import agent_intake_address, key_id
from maildesk.cli.common import config_from
from maildesk.config.reader import parse_duration
from maildesk.rules import RulesHolder

DEFAULT_GRACE = "7d"


def _grace(value: str) -> int:
    seconds = parse_duration(value)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"expected a duration like 0, 12h or 7d, got {value!r}")
    return seconds


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("secret", help="signing keys: rotate, status, agent addresses")
    actions = parser.add_subparsers(dest="secret_command", required=True)
    rotate = actions.add_parser(
        "rotate", help="new signing key; old tokens and links stop working after --grace")
    rotate.add_argument("--grace", type=_grace, default=_grace(DEFAULT_GRACE),
                        help=f"how long the old key still verifies (default {DEFAULT_GRACE}; "
                             "0 revokes at once)")
    rotate.set_defaults(handler=run_rotate)
    status = actions.add_parser("status", help="the current key id and the retired ones")
    status.set_defaults(handler=run_status)
    address = actions.add_parser(
        "address", help="an agent's signed address for opening tickets on a customer's behalf")
    address.add_argument("agent", help="the agent's e-mail or name")
    address.set_defaults(handler=run_address)


def run_rotate(args: argparse.Namespace) -> int:
    config = config_from(args)
    new = keys.rotate(config.desk.secret_file, args.grace, time.time())
    print(f"new key {key_id(new)} in {config.desk.secret_file}")
    if args.grace:
        print(f"the old key verifies its tokens and links for {args.grace} s more "
              f"({keys.previous_file(config.desk.secret_file)})")
    else:
        print("every token and link signed before now is revoked")
    return 0


def run_status(args: argparse.Namespace) -> int:
    config = config_from(args)
    now = time.time()
    print(f"current  {key_id(config.secret())}")
    for retired in keys.read_retired(config.desk.secret_file):
        left = retired.expires - now
        state = f"valid {int(left)} s more" if left > 0 else "expired"
        print(f"retired  {key_id(retired.key)}  {state}")
    return 0


def run_address(args: argparse.Namespace) -> int:
    config = config_from(args)
    agent = find_agent(RulesHolder(config.rules_dir).ruleset, args.agent)
    if agent is None or not agent.active:
        print(f"maildesk: no active agent {args.agent!r}", file=sys.stderr)
        return 2
    print(agent_intake_address(config.secret(), config.desk.address, agent.email))
    return 0
