"""One place says which ticket states are open and which are finished."""

from __future__ import annotations

import re
from pathlib import Path

from maildesk.sla.model import ACTIVE
from maildesk.types import FINISHED_STATES, OPEN_STATES, TicketStatus

PACKAGE = Path(__file__).resolve().parents[2] / "maildesk"
# Two or more states written together: a tuple, list or set of states built by hand.
STATE_GROUP = re.compile(r"[({\[]\s*TicketStatus\.\w+\s*,\s*TicketStatus\.\w+")


def test_every_state_is_either_open_or_finished() -> None:
    # `merged` is neither: the ticket lives on as the one it was merged into.
    assert set(OPEN_STATES) | set(FINISHED_STATES) | {TicketStatus.MERGED} == set(TicketStatus)
    assert TicketStatus.MERGED not in (*OPEN_STATES, *FINISHED_STATES)
    assert not set(OPEN_STATES) & set(FINISHED_STATES)
    assert ACTIVE == set(OPEN_STATES) - {TicketStatus.PENDING}  # pending pauses the clocks


def test_no_module_writes_its_own_group_of_states() -> None:
    found = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py")) if path.name != "types.py"
             for n, line in enumerate(path.read_text().splitlines(), start=1)
             if STATE_GROUP.search(line)]
    assert found == []
