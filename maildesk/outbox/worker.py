"""The daemon's outbound worker: the sender loop bound to a desk."""

from __future__ import annotations

import asyncio

from maildesk.outbox.send import run_sender
from maildesk.runtime.desk import DeskHolder


async def outbox_worker(holder: DeskHolder, stop: asyncio.Event) -> None:
    """Deliver queued mail through [relay] until the daemon stops; each pass takes [relay]
    from the current snapshot, so a SIGHUP applies a new relay at the next pass."""
    desk = holder.current
    await run_sender(stop, desk.sessions, desk.config.relay, desk.config.outbox,
                     clock=desk.clock, relay_of=lambda: holder.current.config.relay)
