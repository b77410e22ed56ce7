"""Which SASL mechanism carries an OAuth2 access token to the IMAP server.

XOAUTH2 is what Microsoft 365 and Gmail both speak; OAUTHBEARER (RFC 7628) is the
standard one, used when the server offers it and the account does not insist otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Mechanism(StrEnum):
    XOAUTH2 = "XOAUTH2"
    OAUTHBEARER = "OAUTHBEARER"


def choose(capabilities: Iterable[bytes | str], wanted: str = "auto") -> Mechanism:
    """`wanted` is the account's `sasl` key: auto, xoauth2 or oauthbearer."""
    if wanted != "auto":
        return Mechanism(wanted.upper())
    offered = {(c.decode() if isinstance(c, bytes) else c).upper() for c in capabilities}
    return Mechanism.OAUTHBEARER if "AUTH=OAUTHBEARER" in offered else Mechanism.XOAUTH2

