"""The daemon's webhook sender: each hook's queue in order, signed, with backoff.

At least once: a row is marked delivered only after a 2xx answer, so a crash between
the answer and the commit sends it again (receivers deduplicate by the event id, also in
the `Maildesk-Delivery` header). Per-hook order: only a hook's oldest queued row is
tried; while it waits for its retry, the rows after it wait too. A hook that fails
`pause_after` times in a row is paused until `maildesk webhooks retry`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import aiohttp

from maildesk import __version__
from maildesk.config.integrations import WebhookConfig
from maildesk.errors import TemporaryFailure
from maildesk.runtime.desk import Desk, DeskHolder
from maildesk.store.db import transaction
from maildesk.store.models import WebhookDelivery
from maildesk.webhooks import queue
from maildesk.webhooks.signature import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

POLL_EVERY = 1.0  # seconds between looks at the queue
PER_PASS = 100  # rows one hook may send in a pass before the next hook's turn


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    event: str
    event_id: str
    body: str


def due_head(desk: Desk, hook: str) -> Pending | None:
    """The hook's oldest queued row if it is due and the hook is not paused."""
    with desk.sessions() as session:
        if queue.is_paused(session, hook):
            return None
        row = queue.head(session, hook)
        if row is None or row.next_attempt_at > desk.clock():
            return None
        return Pending(row.id, row.event, row.event_id, row.body)


def record(desk: Desk, hook: WebhookConfig, pending: Pending, status: int | None,
           error: str | None) -> bool:
    """Write the outcome of one attempt; True when delivered."""
    now = desk.clock()
    with transaction(desk.sessions) as session:
        row = session.get(WebhookDelivery, pending.id)
        if row is None or row.state != queue.QUEUED:
            return row is not None
        if error is None and status is not None:
            queue.record_success(session, row, status, now)
            return True
        if queue.record_failure(session, row, hook, status, error or "failed", now):
            log.warning("webhook %s: paused after %d failures in a row: %s", hook.name,
                        hook.pause_after, error)
        else:
            log.info("webhook %s: delivery %d failed (%s); retry at %s", hook.name, row.id,
                     error, row.next_attempt_at.isoformat())
        return False


async def post(client: aiohttp.ClientSession, hook: WebhookConfig,
               pending: Pending) -> tuple[int | None, str | None]:
    """(HTTP status, error or None). Redirects are not followed: the URL is the contract."""
    data = pending.body.encode("utf-8")
    try:
        signature = sign(hook.secret(), int(time.time()), data)
    except OSError as exc:
        return None, f"cannot read secret_file: {exc.strerror}"
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature,
               EVENT_HEADER: pending.event, DELIVERY_HEADER: pending.event_id,
               "User-Agent": f"maildesk-webhooks/{__version__}"}
    try:
        async with client.post(hook.url, data=data, headers=headers, allow_redirects=False,
                               timeout=aiohttp.ClientTimeout(total=hook.timeout)) as response:
            await response.content.read(64 * 1024)
            if 200 <= response.status < 300:
                return response.status, None
            return response.status, f"HTTP {response.status} {response.reason or ''}".strip()
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return None, f"{exc.__class__.__name__}: {exc}".strip(": ")


async def drain(desk: Desk, hook: WebhookConfig, client: aiohttp.ClientSession) -> int:
    """Send the hook's due rows in order until one fails or none is due; the number sent."""
    sent = 0
    while sent < PER_PASS:
        pending = await asyncio.to_thread(due_head, desk, hook.name)
        if pending is None:
            break
        status, error = await post(client, hook, pending)
        if not await asyncio.to_thread(record, desk, hook, pending, status, error):
            break
        sent += 1
    return sent


async def deliver_pass(desk: Desk, client: aiohttp.ClientSession) -> int:
    """One pass over every configured hook."""
    total = 0
    for hook in desk.config.webhooks:
        total += await drain(desk, hook, client)
    return total


async def webhook_worker(holder: DeskHolder, stop: asyncio.Event) -> None:
    """Deliver queued webhooks until the daemon stops (hooks as in the current snapshot)."""
    async with aiohttp.ClientSession() as client:
        while not stop.is_set():
            desk = holder.current
            if desk.config.webhooks:
                try:
                    await deliver_pass(desk, client)
                except TemporaryFailure as exc:
                    log.warning("webhooks: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), POLL_EVERY)
            except TimeoutError:
                pass
