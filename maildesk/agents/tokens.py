"""Signed tokens: reply addresses bound to an agent and a ticket, and expiring web links.

Reply address: support+MD-1042.k3j5...@acme.example, where the token is an HMAC-SHA256
of (ref, agent e-mail) under the desk secret, truncated to 20 base32 characters (100
bits): unguessable, short enough for every mail client, and case-insensitive because
some MTAs lower-case local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

TOKEN_CHARS = 20


def _mac(secret: bytes, *parts: str) -> str:
    digest = hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:TOKEN_CHARS]


def agent_token(secret: bytes, ref: str, agent: str) -> str:
    return _mac(secret, "agent-reply", ref.upper(), agent.lower())


def agent_reply_address(secret: bytes, desk_address: str, ref: str, agent: str) -> str:
    local, _, domain = desk_address.partition("@")
    return f"{local}+{ref.upper()}.{agent_token(secret, ref, agent)}@{domain}"


def verify_agent_token(secret: bytes, ref: str, agent: str, token: str) -> bool:
    return hmac.compare_digest(agent_token(secret, ref, agent), token.lower())


def address_token(address: str) -> tuple[str, str] | None:
    """(ref, token) from local+REF.TOKEN@domain, or None."""
    local = address.partition("@")[0]
    tag = local.partition("+")[2]
    ref, dot, token = tag.partition(".")
    return (ref.upper(), token) if dot and ref and token else None


def sign_link(secret: bytes, purpose: str, value: str, expires: int) -> str:
    """value.expires.mac for URLs (surveys, status pages); expires is a Unix time."""
    return f"{value}.{expires}.{_mac(secret, 'link', purpose, value, str(expires))}"


def verify_link(secret: bytes, purpose: str, token: str, now: float | None = None) -> str | None:
    """The signed value if the token is authentic and not expired, else None."""
    try:
        value, expires, mac = token.rsplit(".", 2)
        deadline = int(expires)
    except ValueError:
        return None
    if not hmac.compare_digest(_mac(secret, "link", purpose, value, expires), mac.lower()):
        return None
    return value if (now if now is not None else time.time()) <= deadline else None
