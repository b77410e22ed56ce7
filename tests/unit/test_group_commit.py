"""GroupCommit: mail arriving during a commit goes into the next one, all or nothing.

The listener test (tests/integration/test_two_phase.py) proves the same on a real
database; here the groups themselves are observed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from maildesk.errors import TemporaryFailure
from maildesk.intake.group import GroupCommit
from maildesk.pipeline.flow import Accepted
from maildesk.types import RawMail, Source


def _raw(n: int) -> RawMail:
    return RawMail(data=f"Message-ID: <{n}@x>\r\n\r\nhi\r\n".encode(), source=Source.SMTP)


class Recorder:
    """A store that waits for `go` on its first call and fails groups holding `poison`."""

    def __init__(self, poison: bytes | None = None) -> None:
        self.groups: list[list[bytes]] = []
        self.go, self.poison = threading.Event(), poison

    def __call__(self, raws: Sequence[RawMail]) -> list[Accepted]:
        if not self.groups:
            self.go.wait(10)
        self.groups.append([r.data for r in raws])
        if self.poison is not None and any(self.poison in r.data for r in raws):
            raise TemporaryFailure("storage unavailable: commit failed")
        return [Accepted(len(self.groups) * 100 + i, False, None, True) for i in range(len(raws))]


async def _run(store: Recorder, count: int) -> list[Accepted | BaseException]:
    group = GroupCommit(store)
    first = asyncio.create_task(group.submit(_raw(0)))
    await asyncio.sleep(0.01)  # the first commit is running, waiting for `go`
    rest = [asyncio.create_task(group.submit(_raw(n))) for n in range(1, count)]
    while group.pending < count - 1:
        await asyncio.sleep(0.001)
    store.go.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_mail_arriving_during_a_commit_is_committed_together_next() -> None:
    store = Recorder()
    results = asyncio.run(_run(store, 5))
    assert [len(g) for g in store.groups] == [1, 4]
    assert [r.raw_id for r in results if isinstance(r, Accepted)] == [100, 200, 201, 202, 203]


def test_a_failed_commit_fails_every_mail_of_its_group_only() -> None:
    store = Recorder(poison=b"<3@x>")
    results = asyncio.run(_run(store, 5))
    assert isinstance(results[0], Accepted)
    assert all(isinstance(r, TemporaryFailure) for r in results[1:])


@pytest.mark.parametrize("limit", [2])
def test_groups_are_bounded(limit: int) -> None:
    store = Recorder()

    async def run() -> None:
        group = GroupCommit(store, max_group=limit)
        first = asyncio.create_task(group.submit(_raw(0)))
        await asyncio.sleep(0.01)
        rest = [asyncio.create_task(group.submit(_raw(n))) for n in range(1, 6)]
        while group.pending < 5:
            await asyncio.sleep(0.001)
        store.go.set()
        await asyncio.gather(first, *rest)

    asyncio.run(run())
    assert [len(g) for g in store.groups] == [1, 2, 2, 1]
