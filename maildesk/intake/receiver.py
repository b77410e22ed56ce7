"""Intakes: one module per source, each ending in the same accept(RawMail).

Receiver is the one door they all go through: it logs the reception line, runs the
synchronous pipeline (in a thread when called from the event loop, with a cap on how
many run at once so a burst cannot exhaust the database pool), counts the outcome and
keeps track of work in flight so that shutdown can wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from maildesk.mail.mime import header_message_id
from maildesk.pipeline.flow import Accepted, accept
from maildesk.runtime.desk import Desk, DeskHolder, holder_of
from maildesk.runtime.metrics import Metrics
from maildesk.types import RawMail

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4


class Receiver:
    """Runs accept() for every intake and counts what happened."""

    def __init__(self, desk: Desk | DeskHolder, metrics: Metrics | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.holder = holder_of(desk)
        self.metrics = metrics or Metrics()
        self._slots = asyncio.Semaphore(concurrency)
        self._idle = threading.Condition()
        self._in_flight = 0

    def accept_sync(self, raw: RawMail) -> Accepted:
        """Store and process one mail in this thread; TemporaryFailure passes through."""
        self._enter()
        try:
            return self._accept(raw)
        finally:
            self._leave()

    async def accept(self, raw: RawMail) -> Accepted:
        """The same in a worker thread, at most `concurrency` at a time.

        The mail counts as in flight while it waits for a slot, so that shutdown waits
        for a DATA that was fully received but not yet answered.
        """
        self._enter()
        try:
            async with self._slots:
                return await asyncio.to_thread(self._accept, raw)
        finally:
            self._leave()

    def _accept(self, raw: RawMail) -> Accepted:
        log.info("received source=%s ref=%s message-id=<%s> from=<%s> to=%s size=%d",
                 raw.source, raw.source_ref or "-", header_message_id(raw.data),
                 raw.envelope_from or "", ",".join(raw.envelope_to) or "-", len(raw.data))
        try:
            result = accept(self.holder.current, raw)  # one snapshot for the whole mail
        except Exception as exc:
            self.metrics.error(str(raw.source), f"{exc.__class__.__name__}: {exc}")
            raise
        self.metrics.record(str(raw.source), result)
        return result

    def _enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def wait_idle(self, timeout: float) -> bool:
        """Block until no accept() is running (True) or the timeout passes (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)
