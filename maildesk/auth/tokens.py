"""The refresher: a valid access token for an account, refreshed before it expires.

The IMAP pollers (threads) and the outbox sender call `AccessTokens.get()` before each
login, and `get(force=True)` once after the server refused the token (IMAP
AUTHENTICATIONFAILED, SMTP 535), since a token can be revoked before its expiry. The
file lock makes one refresh serve every caller. A failure is written to the token file,
where `maildesk status`, `maildesk auth status` and the metrics read it, and logged once
when it starts, not on every poll that meets it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from maildesk.auth.providers import OAuthFailure, Provider, provider_for
from maildesk.auth.state import (
    Failure,
    TokenState,
    announce,
    failed,
    granted,
    is_valid,
    needs_login,
    needs_refresh,
    refresh_at,
)
from maildesk.auth.store import TokenStore
from maildesk.config.oauth import OAuth2Config
from maildesk.errors import ReauthorizationNeeded, TokenUnavailable
from maildesk.store.models import utcnow

log = logging.getLogger(__name__)


class AccessTokens:
    """Access tokens of one account (`relay`, or an [[imap]] name)."""

    def __init__(self, name: str, config: OAuth2Config, *, provider: Provider | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.name, self.config, self.clock = name, config, clock
        self.store = TokenStore(config.token_file)
        self.provider = provider or provider_for(config)

    def get(self, *, force: bool = False) -> str:
        """A token to log in with; raises ReauthorizationNeeded or TokenUnavailable."""
        with self.store.locked():
            state, now = self.store.load(), self.clock()
            if not force and not needs_refresh(state, now) and state.access_token:
                return state.access_token
            if state.failure is Failure.REVOKED or (needs_login(state) and
                                                   self.config.flow != "client_credentials"):
                raise ReauthorizationNeeded(self._login_hint(state))
            return self._refresh(state, now, force)

    def _refresh(self, state: TokenState, now: datetime, force: bool) -> str:
        try:
            grant = self.provider.refresh(state)
        except OAuthFailure as exc:
            after = failed(state, exc.failure, str(exc))
        except Exception as exc:  # noqa: BLE001 - network, TLS, a non-JSON answer
            after = failed(state, Failure.TEMPORARY, f"{type(exc).__name__}: {exc}")
        else:
            fresh = granted(state, grant, now)
            self.store.save(fresh)
            log.info("oauth2 %s: access token refreshed, valid until %s", self.name,
                     fresh.expires_at.isoformat() if fresh.expires_at else "?")
            return grant.access_token
        self.store.save(after)
        if announce(state, after):
            log.error("oauth2 %s: token refresh failed (%s): %s", self.name,
                      after.failure, after.last_error)
        if after.failure is Failure.REVOKED:
            raise ReauthorizationNeeded(self._login_hint(after))
        if not force and is_valid(state, now) and state.access_token:
            return state.access_token  # still good for a while; try again next time
        raise TokenUnavailable(f"oauth2 {self.name}: {after.last_error}")

    def session_ends(self) -> datetime | None:
        """When a login made now should end, so the next one gets a fresh token."""
        return refresh_at(self.store.load())

    def _login_hint(self, state: TokenState) -> str:
        why = state.last_error or "not logged in"
        return f"oauth2 {self.name}: {why}; run `maildesk auth login {self.name}`"
