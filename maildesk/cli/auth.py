"""`maildesk auth login|status|logout`: OAuth2 tokens of the desk's mailboxes.

NAME is an [[imap]] account name, or `relay`. Tokens are written to the storage dir
(mode 0600) and never printed, not even with --json.
"""

from __future__ import annotations

import argparse
import webbrowser
from datetime import UTC, datetime
from typing import Any

from maildesk.auth.accounts import describe, oauth_accounts
from maildesk.auth.login import browser_login, client_login, device_login
from maildesk.auth.providers import OAuthFailure, provider_for
from maildesk.auth.state import granted
from maildesk.auth.store import TokenStore
from maildesk.cli.common import config_from, print_json, print_table
from maildesk.config.oauth import OAuth2Config
from maildesk.errors import ConfigError, Problem

EX_FAILED = 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("auth", help="OAuth2 login of IMAP accounts and the relay")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    login = actions.add_parser("login", help="obtain the first refresh token, interactively")
    login.add_argument("name", metavar="NAME", help="an [[imap]] name, or relay")
    login.add_argument("--no-browser", action="store_true",
                       help="browser flow: print the URL only, do not open a browser")
    login.add_argument("--port", type=int, default=0,
                       help="browser flow: loopback port of the redirect (default: any free)")
    login.set_defaults(handler=run_login)
    status = actions.add_parser("status", help="token state of each OAuth2 account")
    status.add_argument("name", metavar="NAME", nargs="?")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=run_status)
    logout = actions.add_parser("logout", help="forget an account's tokens")
    logout.add_argument("name", metavar="NAME")
    logout.set_defaults(handler=run_logout)


def _account(args: argparse.Namespace) -> OAuth2Config:
    accounts = oauth_accounts(config_from(args))
    if args.name not in accounts:
        known = ", ".join(accounts) or "none"
        raise ConfigError(Problem("", None, "auth", f"no account {args.name!r} with "
                                  f"auth = \"oauth2\" (OAuth2 accounts: {known})"))
    return accounts[args.name]


def _show(text: str) -> None:
    print(text, flush=True)


def run_login(args: argparse.Namespace) -> int:
    oauth = _account(args)
    provider = provider_for(oauth)
    try:
        if oauth.flow == "device":
            grant = device_login(provider, _show)
        elif oauth.flow == "browser":
            grant = browser_login(provider, _show,
                                  None if args.no_browser else webbrowser.open, args.port)
        else:
            grant = client_login(provider)
    except OAuthFailure as exc:
        print(f"maildesk: login of {args.name} failed: {exc}", flush=True)
        return EX_FAILED
    store = TokenStore(oauth.token_file)
    with store.locked():
        state = granted(store.load(), grant, datetime.now(UTC))
        store.save(state)
    until = state.expires_at.isoformat(timespec="seconds") if state.expires_at else "?"
    print(f"{args.name}: logged in; access token valid until {until}; scopes "
          f"{' '.join(state.scopes) or '-'}", flush=True)
    return 0


def run_status(args: argparse.Namespace) -> int:
    accounts = oauth_accounts(config_from(args))
    if args.name:
        accounts = {args.name: _account(args)}
    now = datetime.now(UTC)
    rows = [describe(name, oauth, now) for name, oauth in accounts.items()]
    if args.json:
        print_json(rows)
    else:
        print_table(["name", "provider", "state", "valid until", "last refresh", "scopes",
                     "last error"], [_row(r) for r in rows])
    return EX_FAILED if any(r["needs_login"] for r in rows) else 0


def _row(row: dict[str, Any]) -> list[Any]:
    state = ("LOGIN NEEDED" if row["needs_login"] else "valid" if row["valid"]
             else "expired (refreshed on use)")
    return [row["name"], f"{row['provider']}/{row['flow']}", state, _when(row["valid_until"]),
            _when(row["last_refresh"]), " ".join(row["scopes"]), row["last_error"] or ""]


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def run_logout(args: argparse.Namespace) -> int:
    oauth = _account(args)
    store = TokenStore(oauth.token_file)
    with store.locked():
        forgotten = store.forget()
    print(f"{args.name}: {'tokens forgotten' if forgotten else 'was not logged in'}")
    return 0
