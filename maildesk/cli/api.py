"""`maildesk api token create|list|revoke`: per-agent tokens for the HTTP API."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from maildesk.api import tokens
from maildesk.cli.common import desk_from, print_json, print_table
from maildesk.config.reader import parse_duration
from maildesk.store.db import transaction


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("api", help="API tokens for /api/v1")
    groups = parser.add_subparsers(dest="api_command", required=True)
    token = groups.add_parser("token", help="create, list and revoke API tokens")
    actions = token.add_subparsers(dest="token_command", required=True)
    create = actions.add_parser("create", help="make a token for an agent (shown once)")
    create.add_argument("--agent", required=True, help="the agent's e-mail")
    create.add_argument("--read-only", action="store_true", help="may read, never change")
    create.add_argument("--expires", metavar="DURATION", help="e.g. 90d, 12h (default: never)")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=run_create)
    ls = actions.add_parser("list", help="every token, its agent and state (never the secret)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    revoke = actions.add_parser("revoke", help="stop a token at once")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    expires = None
    if args.expires:
        seconds = parse_duration(args.expires)
        if not seconds:
            print(f"--expires: not a duration like 90d or 12h: {args.expires!r}", file=sys.stderr)
            return 2
        expires = timedelta(seconds=seconds)
    desk = desk_from(args, lenient=True)
    agent = desk.ruleset.agent_for(args.agent)
    if agent is None or not agent.active:
        state = "inactive" if agent else "not in rules/team.yaml"
        print(f"no active agent {args.agent!r} ({state})", file=sys.stderr)
        return 2
    with transaction(desk.sessions) as session:
        token_id, token = tokens.create(session, agent, desk.clock(), read_only=args.read_only,
                                        expires_in=expires)
    if args.json:
        print_json({"id": token_id, "agent": agent.email, "token": token,
                    "read_only": args.read_only})
        return 0
    # Only the token on standard output, so `TOKEN=$(maildesk api token create ...)` works.
    print(f"token {token_id} for {agent.email}{' (read-only)' if args.read_only else ''}; "
          "keep it now: it is stored hashed and cannot be shown again", file=sys.stderr)
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        rows = tokens.listing(session, desk.ruleset, desk.clock())
    if args.json:
        print_json(rows)
        return 0
    print_table(["id", "agent", "prefix", "access", "state", "created", "expires", "last used"],
                [[r["id"], r["agent"], r["prefix"] + "…", "read" if r["read_only"] else "write",
                  r["state"], r["created_at"], r["expires_at"] or "never",
                  r["last_used_at"] or "-"] for r in rows])
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with transaction(desk.sessions) as session:
        found = tokens.revoke(session, args.id, desk.clock())
    if not found:
        print(f"no token {args.id}", file=sys.stderr)
        return 1
    print(f"token {args.id} revoked")
    return 0
