"""Pure: where the author's text ends and their signature begins.

Only three things cut, and only at the end of the text: the signature delimiter
(RFC 3676 "-- ", not a bare "--" inside pasted output such as grep's group separator),
a phone's device line ("Sent from my iPhone"), and a closing followed only by a name.
A closing word anywhere else ("Gracias,\\nya revisé el servidor…") never cuts.
"""

from __future__ import annotations

import re

from maildesk.mail.quote_marks import CLOSING, DEVICE, SIGNATURE

MAX_SIGNATURE_LINES = 10  # a block longer than this below "--" is text, not a signature
_PARTICLES = {"de", "del", "la", "van", "von", "der", "da", "dos", "y", "e"}
_NAME_WORD = re.compile(r"^[(\[]?[A-ZÀ-ÖØ-ÞА-ЯЁŁŚŻŹĆŃ][\w.'’\-]*[)\]]?$")


def trim_signature(lines: list[str]) -> list[str]:
    """`lines` without a trailing signature, device line or closing-and-name."""
    for cut in (_delimiter, _device, _closing):
        at = cut(lines)
        if at is not None and _has_text(lines[:at]):
            lines = lines[:at]
    return _rstrip(lines)


def _has_text(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def _rstrip(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def _delimiter(lines: list[str]) -> int | None:
    """The last "-- " line with a short block below it, that is not inside output."""
    for index in range(len(lines) - 1, -1, -1):
        if not SIGNATURE.match(lines[index]):
            continue
        below = [line for line in lines[index + 1:] if line.strip()]
        if len(below) > MAX_SIGNATURE_LINES:
            return None
        standalone = lines[index] == "-- " or index == 0 or not lines[index - 1].strip()
        return index if standalone else None
    return None


def _device(lines: list[str]) -> int | None:
    """A device line among the last lines, with at most a name below it."""
    body = _rstrip(lines)
    for back in (1, 2):
        if len(body) >= back and DEVICE.match(body[-back]) and all(
                looks_like_name(line) for line in body[len(body) - back + 1:]):
            return len(body) - back
    return None


def _closing(lines: list[str]) -> int | None:
    """"Thanks,\\nAna" at the very end: a closing line followed only by one or two name lines."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    for names in (1, 2):
        if len(filled) < names + 1:
            return None
        at = filled[-names - 1]
        if CLOSING.match(lines[at]) and all(looks_like_name(lines[i]) for i in filled[-names:]):
            return at
    return None


def looks_like_name(line: str) -> bool:
    """"Ana", "Ana Pérez", "J. Smith (IT)": a few capitalised words and nothing else."""
    words = line.split()
    if not 1 <= len(words) <= 4 or len(line.strip()) > 40:
        return False
    return all(_NAME_WORD.match(w) or w.lower() in _PARTICLES for w in words)
