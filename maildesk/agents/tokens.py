"""Signed tokens: reply addresses bound to an agent and a ticket, and expiring web links.

Reply address: support+MD-1042.k7k3j5...@acme.example, where the token is the id of the
signing key (two base32 characters, see key_id) followed by an HMAC-SHA256 of (ref,
agent e-mail) under that key, truncated to 20 base32 characters (100 bits):
unguessable, short enough for every mail client, and case-insensitive because some
MTAs lower-case local parts. The key id lets `maildesk secret rotate` revoke every
token of a retired key once its grace period ends (agents/keys.py).

An agent's own address for opening tickets on a customer's behalf uses the ref NEW
(support+new.TOKEN@...): no ticket ref can be NEW, since refs are PREFIX-NUMBER.

Tokens of 20 characters, from before key ids, verify under any live key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable

TOKEN_CHARS = 20
KEY_ID_CHARS = 2
NEW_TICKET = "NEW"

Keys = bytes | Iterable[bytes]  # one key, or the live keys (the current one first)


def _b32(digest: bytes) -> str:
    return base64.b32encode(digest).decode().lower()


def key_id(secret: bytes) -> str:
    """Which key signed a token: not secret, only tells keys apart."""
    return _b32(hashlib.sha256(b"maildesk key id\x1f" + secret).digest())[:KEY_ID_CHARS]


def _mac(secret: bytes, *parts: str) -> str:
    digest = hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).digest()
    return _b32(digest)[:TOKEN_CHARS]


def _sign(secret: bytes, *parts: str) -> str:
    return key_id(secret) + _mac(secret, *parts)


def _verify(keys: Keys, token: str, *parts: str) -> bool:
    """Whether `token` is the signature of `parts` under one of the live keys."""
    token = token.lower()
    for key in [keys] if isinstance(keys, bytes) else keys:
        if len(token) == TOKEN_CHARS:  # from before key ids
            expected = _mac(key, *parts)
        elif token[:KEY_ID_CHARS] == key_id(key):
            expected = _sign(key, *parts)
        else:
            continue
        if hmac.compare_digest(expected, token):
            return True
    return False


def agent_token(secret: bytes, ref: str, agent: str) -> str:
    return _sign(secret, "agent-reply", ref.upper(), agent.lower())


def agent_reply_address(secret: bytes, desk_address: str, ref: str, agent: str) -> str:
    local, _, domain = desk_address.partition("@")
    return f"{local}+{ref.upper()}.{agent_token(secret, ref, agent)}@{domain}"


def agent_intake_address(secret: bytes, desk_address: str, agent: str) -> str:
    """The agent's address for forwarding a customer's mail, or copying the desk."""
    local, _, domain = desk_address.partition("@")
    return f"{local}+{NEW_TICKET.lower()}.{agent_token(secret, NEW_TICKET, agent)}@{domain}"


def verify_agent_token(keys: Keys, ref: str, agent: str, token: str) -> bool:
    return _verify(keys, token, "agent-reply", ref.upper(), agent.lower())


def address_token(address: str) -> tuple[str, str] | None:
    """(ref, token) from local+REF.TOKEN@domain, or None."""
    local = address.partition("@")[0]
    tag = local.partition("+")[2]
    ref, dot, token = tag.partition(".")
    return (ref.upper(), token) if dot and ref and token else None


def sign_link(secret: bytes, purpose: str, value: str, expires: int) -> str:
    """value.expires.mac for URLs (surveys, status pages); expires is a Unix time."""
    return f"{value}.{expires}.{_sign(secret, 'link', purpose, value, str(expires))}"


def verify_link(keys: Keys, purpose: str, token: str, now: float | None = None) -> str | None:
    """The signed value if the token is authentic and not expired, else None."""
    try:
        value, expires, mac = token.rsplit(".", 2)
        deadline = int(expires)
    except ValueError:
        return None
    if not _verify(keys, mac, "link", purpose, value, expires):
        return None
    return value if (now if now is not None else time.time()) <= deadline else None
