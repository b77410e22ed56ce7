"""How the daemon's workers sleep: until woken, stopped, or the interval passes."""

from __future__ import annotations

import asyncio


async def wait_any(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> bool:
    """Sleep until `wake` or `stop` is set or `seconds` passed; True when stopped."""
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    return stop.is_set()
