"""The accounts that log in with OAuth2: [[imap]] names, and `relay`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from maildesk.auth.store import TokenStore
from maildesk.config.model import Config
from maildesk.config.oauth import OAuth2Config

RELAY = "relay"


def oauth_accounts(config: Config) -> dict[str, OAuth2Config]:
    """Name -> settings, in config order; the relay is called `relay`."""
    found = {a.name: a.oauth for a in config.imap if a.oauth is not None}
    if config.relay.oauth is not None:
        found.setdefault(RELAY, config.relay.oauth)
    return found


def describe(name: str, oauth: OAuth2Config, now: datetime) -> dict[str, Any]:
    """One account's state for `auth status`, `status` and --json: never a token."""
    state = TokenStore(oauth.token_file).load()
    public = state.public(now)
    if oauth.flow == "client_credentials":  # no person to log in: a token comes on use
        public["needs_login"] = False
    return {"name": name, "provider": oauth.provider, "flow": oauth.flow, **public}


def states(config: Config, now: datetime) -> list[dict[str, Any]]:
    """Every OAuth2 account's state, for `maildesk status` and the metrics."""
    return [describe(name, oauth, now) for name, oauth in oauth_accounts(config).items()]
