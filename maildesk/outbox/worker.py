"""The daemon's outbound worker: the sender loop bound to a desk."""

from __future__ import annotations

import asyncio

from maildesk.outbox.send import run_sender
from maildesk.runtime.desk import Desk


async def outbox_worker(desk: Desk, stop: asyncio.Event) -> None:
    """Deliver queued mail through [relay] until the daemon stops."""
    await run_sender(stop, desk.sessions, desk.config.relay, desk.config.outbox,
                     clock=desk.clock)
