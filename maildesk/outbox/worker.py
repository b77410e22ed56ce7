"""The daemon's outbound worker: the sender loop bound to a desk."""

from __future__ import annotations

import asyncio

from ..desk import Desk
from .send import run_sender


async def outbox_worker(desk: Desk, stop: asyncio.Event) -> None:
    """Deliver queued mail through [relay] until the daemon stops."""
    await run_sender(stop, desk.sessions, desk.config.relay, desk.config.outbox)
