"""What an account's tokens are and what to do about them: pure functions of values.

RFC 6749 5.2: `invalid_grant` on a refresh means the refresh token is revoked or expired,
so only a new interactive login helps; `invalid_client`/`unauthorized_client` mean the
app registration or its secret is wrong. Anything else (network, 5xx) is worth another
try, and the access token in hand is used while it is still valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

REFRESH_MARGIN = timedelta(minutes=5)  # refresh this long before expiry ...
REFRESH_SHARE = 0.2  # ... or within the last fifth of a short token's life


class Failure(StrEnum):
    REVOKED = "revoked"  # refresh token revoked or expired: run `maildesk auth login`
    CLIENT = "client"  # the app registration, secret or certificate is refused
    TEMPORARY = "temporary"  # network, 5xx, throttling: try again later


REVOKED_CODES = frozenset({"invalid_grant", "interaction_required", "expired_token",
                           "access_denied"})
CLIENT_CODES = frozenset({"invalid_client", "unauthorized_client", "invalid_scope",
                          "unsupported_grant_type"})


@dataclass(frozen=True, slots=True)
class Grant:
    """A token endpoint's successful answer (RFC 6749 5.1), as far as the desk uses it."""

    access_token: str
    expires_in: int
    refresh_token: str | None = None
    scopes: tuple[str, ...] = ()
    cache: str | None = None  # a provider's own serialized state (MSAL's token cache)


@dataclass(frozen=True, slots=True)
class TokenState:
    """One account's token file. Never printed whole: see `public()`."""

    access_token: str | None = None
    obtained_at: datetime | None = None
    expires_at: datetime | None = None
    refresh_token: str | None = None
    scopes: tuple[str, ...] = ()
    last_refresh: datetime | None = None
    last_error: str | None = None
    failure: Failure | None = None
    failures: int = 0  # refresh failures since the last success
    cache: str | None = field(default=None, repr=False)

    def public(self, now: datetime) -> dict[str, object]:
        """What `maildesk auth status` and `maildesk status` may show: no token at all."""
        return {"logged_in": self.refresh_token is not None or self.access_token is not None,
                "valid": is_valid(self, now), "valid_until": self.expires_at,
                "scopes": list(self.scopes), "last_refresh": self.last_refresh,
                "last_error": self.last_error, "failures": self.failures,
                "failure": self.failure.value if self.failure else None,
                "needs_login": needs_login(self)}


def classify(code: str | None) -> Failure:
    """An OAuth2 error code (RFC 6749 5.2) -> what kind of failure it is."""
    if code in REVOKED_CODES:
        return Failure.REVOKED
    if code in CLIENT_CODES:
        return Failure.CLIENT
    return Failure.TEMPORARY


def is_valid(state: TokenState, now: datetime) -> bool:
    return bool(state.access_token and state.expires_at and now < state.expires_at)


def refresh_at(state: TokenState) -> datetime | None:
    """When to get a new access token: five minutes before expiry, or earlier for short
    tokens, so a login never starts with a token about to lapse."""
    if state.expires_at is None or state.obtained_at is None:
        return None
    life = state.expires_at - state.obtained_at
    return state.expires_at - min(REFRESH_MARGIN, life * REFRESH_SHARE)


def needs_refresh(state: TokenState, now: datetime) -> bool:
    due = refresh_at(state)
    return not state.access_token or due is None or now >= due


def needs_login(state: TokenState) -> bool:
    """Only an interactive login can help: never logged in, or the grant was revoked."""
    return state.failure is Failure.REVOKED or (state.refresh_token is None
                                                and state.access_token is None)


def granted(state: TokenState, grant: Grant, now: datetime) -> TokenState:
    """The state after a successful token request; a refresh may not return a new
    refresh token (RFC 6749 6), in which case the old one stays."""
    return TokenState(
        access_token=grant.access_token, obtained_at=now,
        expires_at=now + timedelta(seconds=max(grant.expires_in, 1)),
        refresh_token=grant.refresh_token or state.refresh_token,
        scopes=grant.scopes or state.scopes, last_refresh=now, last_error=None,
        failure=None, failures=0, cache=grant.cache or state.cache)


def failed(state: TokenState, failure: Failure, message: str) -> TokenState:
    """The state after a failed token request. A revoked grant also drops the access
    token, so nothing tries it again until someone logs in."""
    if failure is Failure.REVOKED:
        return replace(state, access_token=None, failure=failure, last_error=message,
                       failures=state.failures + 1)
    return replace(state, failure=failure, last_error=message, failures=state.failures + 1)


def announce(before: TokenState, after: TokenState) -> bool:
    """Log a failure once when it starts or changes, not on every poll that meets it."""
    return after.last_error is not None and (before.failure, before.last_error) != (
        after.failure, after.last_error)
