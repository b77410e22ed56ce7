"""Pure: a token bucket per API token, refilled evenly over [api] rate_window.

`rate_limit` requests may come in a burst; after that one more is allowed every
rate_window / rate_limit seconds. The buckets live in the daemon's memory: a restart
forgives, which is fine for a limit that protects the desk rather than bills anyone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: float  # monotonic seconds of the last update


def take(bucket: Bucket | None, now: float, limit: int, window: float) -> tuple[Bucket, int]:
    """(the bucket after this request, 0 if allowed else the seconds to wait)."""
    rate = limit / window
    tokens = limit if bucket is None else min(limit, bucket.tokens + (now - bucket.at) * rate)
    if tokens >= 1:
        return Bucket(tokens - 1, now), 0
    return Bucket(tokens, now), max(1, math.ceil((1 - tokens) / rate))


class Limiter:
    """The buckets of one server, by token id."""

    def __init__(self) -> None:
        self.buckets: dict[int, Bucket] = {}

    def check(self, key: int, now: float, limit: int, window: float) -> int:
        self.buckets[key], wait = take(self.buckets.get(key), now, limit, window)
        return wait
