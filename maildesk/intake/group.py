"""Group commit: mail received at the same time is committed in one transaction.

While one commit runs (in a worker thread), the mail that arrives meanwhile waits and
goes into the next commit, all together: under load many sessions share one disk flush,
and a lone mail is committed at once, with no timer added. Every mail of a group is
answered only after its group's commit; if that commit fails, every mail of the group
gets the same error (451 from the listener) and none of them is stored, since they were
one transaction (RFC 5321 4.1.1.4: a 250 is a promise the server must keep).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from maildesk.pipeline.flow import Accepted
from maildesk.types import RawMail

Store = Callable[[Sequence[RawMail]], list[Accepted]]

MAX_GROUP = 64  # mails per transaction: bounds the memory and the time of one commit


class GroupCommit:
    """Collects mail from concurrent sessions and commits it in groups, one group at a time."""

    def __init__(self, store: Store, max_group: int = MAX_GROUP) -> None:
        self._store, self._max = store, max_group
        self._pending: list[tuple[RawMail, asyncio.Future[Accepted]]] = []
        self._committer: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Mail waiting for the next commit (not the one running)."""
        return len(self._pending)

    async def submit(self, raw: RawMail) -> Accepted:
        """Return once `raw` is committed; raise what the commit of its group raised."""
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._pending.append((raw, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_all(), name="group-commit")
        return await future

    async def _commit_all(self) -> None:
        while self._pending:
            group, self._pending = self._pending[:self._max], self._pending[self._max:]
            try:
                results = await asyncio.to_thread(self._store, [raw for raw, _ in group])
            except Exception as exc:  # noqa: BLE001 - each session answers it (451)
                for _, future in group:
                    if not future.done():  # a session gone meanwhile no longer waits
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():
                    future.set_result(result)
