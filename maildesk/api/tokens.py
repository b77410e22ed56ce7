"""Per-agent API tokens: made once, shown once, kept as a SHA-256 hash.

A token is 32 random bytes (URL-safe base64) behind the `mdk_` prefix, so a hash without
salt is enough: nobody can guess such a secret to compare, and a lookup by hash is one
index probe. A token works while it is neither revoked nor expired and its agent is in
the current rule set and active; deactivating an agent stops their tokens at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.rules import RuleSet
from maildesk.rules.schema import Agent
from maildesk.store.models import ApiToken

PREFIX = "mdk_"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a valid token speaks for."""

    token_id: int
    agent: Agent
    read_only: bool


def create(session: Session, agent: Agent, now: datetime, *, read_only: bool = False,
           expires_in: timedelta | None = None) -> tuple[int, str]:
    """(id, the token): the token is not stored and cannot be shown again."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(agent=agent.email, token_hash=token_hash(token), prefix=token[:12],
                   read_only=read_only, created_at=now,
                   expires_at=now + expires_in if expires_in else None)
    session.add(row)
    session.flush()
    return row.id, token


def state(row: ApiToken, ruleset: RuleSet, now: datetime) -> str:
    """Pure: active, revoked, expired, or agent-inactive."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    agent = ruleset.agent_for(row.agent)
    if agent is None or not agent.active:
        return "agent-inactive"
    return "active"


def authenticate(session: Session, token: str, ruleset: RuleSet, now: datetime) -> Caller | None:
    """The caller a bearer token speaks for, or None when it does not work (any reason)."""
    if not token.startswith(PREFIX):
        return None
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == token_hash(token))
                          ).scalar_one_or_none()
    if row is None or state(row, ruleset, now) != "active":
        return None
    agent = ruleset.agent_for(row.agent)
    assert agent is not None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    return Caller(row.id, agent, row.read_only)


def revoke(session: Session, token_id: int, now: datetime) -> bool:
    """False when there is no such token; revoking twice keeps the first time."""
    row = session.get(ApiToken, token_id)
    if row is None:
        return False
    row.revoked_at = row.revoked_at or now
    return True


def listing(session: Session, ruleset: RuleSet, now: datetime) -> list[dict[str, Any]]:
    rows = session.execute(select(ApiToken).order_by(ApiToken.id)).scalars().all()
    return [{"id": r.id, "agent": r.agent, "prefix": r.prefix, "read_only": r.read_only,
             "state": state(r, ruleset, now), "created_at": _iso(r.created_at),
             "expires_at": _iso(r.expires_at), "revoked_at": _iso(r.revoked_at),
             "last_used_at": _iso(r.last_used_at)} for r in rows]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
