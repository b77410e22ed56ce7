"""Pure: the signature header of a webhook delivery, and its check (for receivers and tests).

As Stripe does: `Maildesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
HMAC is computed with the hook's secret over `<t>.<raw body>`. The timestamp is signed
too, so a receiver can refuse old deliveries (replays) by their age; `v1` names the
scheme, so a later scheme can be sent beside it.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Maildesk-Signature"
EVENT_HEADER = "Maildesk-Event"
DELIVERY_HEADER = "Maildesk-Delivery"
TOLERANCE = 300  # seconds a receiver should accept between t= and its own clock


def digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value for a body sent at `timestamp`."""
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def verify(secret: bytes, header: str, body: bytes, now: float,
           tolerance: int = TOLERANCE) -> bool:
    """True when one v1 signature matches and t= is within `tolerance` of `now`."""
    parts = [p.partition("=") for p in header.split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, _, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)
