"""Intakes: one module per source, each ending in the same accept(RawMail).

Receiver is the one door they all go through: it logs the reception line, stores the
mail, counts what happened and keeps track of work in flight so that shutdown can wait
for it. It works in one of two ways:

- on its own (the CLI, `maildesk fetch`, direct callers): it stores and processes each
  mail before returning, in a worker thread when called from the event loop, with a cap
  on how many run at once so a burst cannot exhaust the database pool;
- inside `maildesk run`, given `stored` (the processing workers' wake-up): it only
  commits the raw bytes, concurrent SMTP/LMTP mail in one group commit, answers at once
  and wakes the processing workers (runtime/processing.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence

from maildesk.intake.group import GroupCommit
from maildesk.mail.mime import header_message_id
from maildesk.pipeline.flow import Accepted, accept, store
from maildesk.runtime.desk import Desk, DeskHolder, holder_of
from maildesk.runtime.metrics import Metrics
from maildesk.types import RawMail

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4


class Receiver:
    """Runs accept() (or only the store, in the daemon) for every intake."""

    def __init__(self, desk: Desk | DeskHolder, metrics: Metrics | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY, *,
                 stored: Callable[[], None] | None = None) -> None:
        self.holder = holder_of(desk)
        self.metrics = metrics or Metrics()
        self.stored = stored  # None: process each mail before returning
        self.group = GroupCommit(self._store_group)
        # SQLite has one writer: inside the daemon, intake commits and processing take this
        # lock in turn, a handover without the engine's sleep-and-retry busy wait.
        self.write_lock = threading.Lock()
        self._slots = asyncio.Semaphore(concurrency)
        self._idle = threading.Condition()
        self._in_flight = 0

    def accept_sync(self, raw: RawMail) -> Accepted:
        """Store (and, on its own, process) one mail in this thread; TemporaryFailure
        passes through."""
        self._enter()
        try:
            if self.stored is None:
                return self._accept(raw)
            return self._store_group([raw])[0]
        finally:
            self._leave()

    async def accept(self, raw: RawMail) -> Accepted:
        """The same from the event loop; in the daemon, in a group commit.

        The mail counts as in flight while it waits for a slot or its group, so that
        shutdown waits for a DATA that was fully received but not yet answered.
        """
        self._enter()
        try:
            if self.stored is not None:
                return await self.group.submit(raw)
            async with self._slots:
                return await asyncio.to_thread(self._accept, raw)
        finally:
            self._leave()

    def _accept(self, raw: RawMail) -> Accepted:
        _log_received(raw)
        try:
            result = accept(self.holder.current, raw)  # one snapshot for the whole mail
        except Exception as exc:
            self.metrics.error(str(raw.source), f"{exc.__class__.__name__}: {exc}")
            raise
        self.metrics.record(str(raw.source), result)
        return result

    def _store_group(self, raws: Sequence[RawMail]) -> list[Accepted]:
        """Commit these mails together, then wake the processing workers."""
        for raw in raws:
            _log_received(raw)
        desk = self.holder.current
        try:
            if desk.engine.dialect.name == "sqlite":
                with self.write_lock:
                    results = store(desk, raws)
            else:
                results = store(desk, raws)
        except Exception as exc:
            for raw in raws:
                self.metrics.error(str(raw.source), f"{exc.__class__.__name__}: {exc}")
            raise
        for raw, result in zip(raws, results, strict=True):
            self.metrics.record(str(raw.source), result, processed_later=True)
        if self.stored is not None and any(r.waiting for r in results):
            self.stored()
        return results

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


def _log_received(raw: RawMail) -> None:
    log.info("received source=%s ref=%s message-id=<%s> from=<%s> to=%s size=%d",
             raw.source, raw.source_ref or "-", header_message_id(raw.data),
             raw.envelope_from or "", ",".join(raw.envelope_to) or "-", len(raw.data))
