"""Pure: reading the repair commands #merge MD-n, #split [following], #move MD-n.

Kept apart from commands.py, which only routes these three names here. At most one
repair per mail: each changes which ticket the rest of the mail acts on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from maildesk.text import fold


class RepairKind(StrEnum):
    MERGE = "merge"
    SPLIT = "split"
    MOVE = "move"


@dataclass(frozen=True, slots=True)
class RepairRequest:
    """merge: this ticket into `ref`; split: the message answered (and, with `following`,
    the mail after it) into a new ticket; move: the message answered to `ref`."""

    kind: RepairKind
    ref: str | None = None
    following: bool = False


REPAIR_ALIASES: dict[str, RepairKind] = {
    "merge": RepairKind.MERGE, "fusionar": RepairKind.MERGE, "unir": RepairKind.MERGE,
    "split": RepairKind.SPLIT, "dividir": RepairKind.SPLIT, "separar": RepairKind.SPLIT,
    "move": RepairKind.MOVE, "mover": RepairKind.MOVE,
}
FOLLOWING = frozenset({"following", "siguientes", "and-following", "y-siguientes"})
_REF = re.compile(r"^\[?\s*([A-Za-z][A-Za-z0-9]*)\s*-\s*(\d+)\s*\]?$")


def ticket_ref(text: str) -> str | None:
    """'MD-7', '[md-7]' -> 'MD-7'; anything else -> None."""
    match = _REF.match(text.strip())
    return f"{match.group(1).upper()}-{int(match.group(2))}" if match else None


def read_repair(kind: RepairKind, argument: str) -> RepairRequest | str:
    """The request, or what is wrong with the argument."""
    if kind is RepairKind.SPLIT:
        if not argument:
            return RepairRequest(kind)
        if fold(argument).strip().replace(" ", "-") in FOLLOWING:
            return RepairRequest(kind, following=True)
        return "takes no value, or `following` to take the mail after it too"
    ref = ticket_ref(argument)
    if ref is None:
        return f"needs a ticket reference (#{kind} MD-42)"
    return RepairRequest(kind, ref)
