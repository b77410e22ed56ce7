"""The processing workers of `maildesk run`: stored mail through the stages, in order.

The intakes only commit the raw bytes and answer; these workers then take the stored
mail oldest first (pipeline.flow.process_next: a reply waits while the earlier mail it
refers to is waiting or in flight, on this daemon or another). A worker is woken at once
by a local intake and looks every [daemon] poll_interval for mail stored by other
daemons or left by a crash. After a storage error it backs off; the mail stays stored.
On SIGTERM the workers finish what they hold and go on with what is stored for a few
seconds more, so a mail just answered 250 is usually processed before the exit; the
rest is processed at the next start.

SQLite has a single writer, so there one worker processes at a time, and it gives way
to intake commits (which wait for the write lock otherwise), so a 250 never waits for a
backlog.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from maildesk.errors import TemporaryFailure
from maildesk.intake.receiver import Receiver
from maildesk.pipeline.flow import Processed, process_next
from maildesk.runtime.desk import DeskHolder
from maildesk.runtime.metrics import Metrics
from maildesk.runtime.waiting import wait_any

log = logging.getLogger(__name__)

BACKOFF = 5.0  # seconds after a storage error
DRAIN_AFTER_STOP = 5.0  # seconds of processing left after SIGTERM (the grace is 8)
YIELD_TO_INTAKE = 0.1  # SQLite: longest wait for intake commits before a claim


class Processing:
    """Wake-ups and the worker loop shared by the [daemon] workers."""

    def __init__(self, holder: DeskHolder, metrics: Metrics) -> None:
        self.holder, self.metrics = holder, metrics
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._intake_idle: Callable[[float], bool] = lambda _timeout: True
        self._writer = threading.Lock()

    def attach(self, receiver: Receiver) -> None:
        """Wire the intake: it wakes the workers, and on SQLite they share its write lock
        and let its commits go first."""
        receiver.stored = self.wake
        self._intake_idle, self._writer = receiver.wait_idle, receiver.write_lock

    def wake(self) -> None:
        """Called by an intake (any thread) once it stored mail."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def count(self) -> int:
        """How many workers to start: [daemon] workers."""
        return self.holder.current.config.daemon.workers

    async def worker(self, holder: DeskHolder, stop: asyncio.Event) -> None:
        """One processing worker: a daemon worker (see runtime/daemon.py)."""
        if self._wake is None:
            self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        wake, stopped_at = self._wake, None
        while True:
            if stop.is_set():
                stopped_at = stopped_at or time.monotonic()
                if time.monotonic() - stopped_at > DRAIN_AFTER_STOP:
                    return
            wake.clear()
            try:
                done = await asyncio.to_thread(self._one)
            except TemporaryFailure as exc:
                log.warning("processing: %s; next try in %.0fs", exc, BACKOFF)
                if stop.is_set() or await wait_any(stop, None, BACKOFF):
                    return
                continue
            if done is not None:
                self.metrics.processed(done.outcome)
                continue
            if stop.is_set():
                return
            await wait_any(stop, wake, holder.current.config.daemon.poll_interval)

    def _one(self) -> Processed | None:
        desk = self.holder.current  # one snapshot for the whole mail
        if desk.engine.dialect.name != "sqlite":
            return process_next(desk)
        self._intake_idle(YIELD_TO_INTAKE)
        with self._writer:
            return process_next(desk)
