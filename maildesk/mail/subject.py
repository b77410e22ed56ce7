"""Pure: the one table of reply and forward prefixes that clients put before a subject.

Replies and forwards are told apart because they mean different things to the desk: a
reply continues a conversation, a forward ("Fwd: Payment receipt") starts a new one
unless its headers say otherwise. Outlook localises both ("RE:"/"RV:" in Spanish,
"AW:"/"WG:" in German, "RES:"/"ENC:" in Portuguese, "R:"/"I:" in Italian, "SV:"/"VS:" in
Nordic languages, "Antw:"/"Doorst:" in Dutch, "Odp:"/"PD:" in Polish, "TR:" in French).
"""

from __future__ import annotations

import re
from enum import StrEnum

REPLY_WORDS = ("re", "aw", "res", "sv", "antw", "ant", "odp", "r", "ref", "rif", "odg",
               "ynt", "atb", "vá", "отв", "ответ", "回复", "答复")
FORWARD_WORDS = ("fw", "fwd", "rv", "tr", "wg", "enc", "i", "doorst", "vs", "vb", "fs", "pd",
                 "reenviar", "reenviado", "továbbítás", "пересл", "转发")
_WORD = "|".join(sorted((re.escape(w) for w in REPLY_WORDS + FORWARD_WORDS), key=len,
                        reverse=True))
# One prefix: "Re:", "RE :", "Re[2]:", "AW(3):", "Re：" (full-width colon).
PREFIX = re.compile(rf"\s*({_WORD})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*", re.IGNORECASE)
PREFIXES = re.compile(rf"^(?:{PREFIX.pattern})+", re.IGNORECASE)


class Prefix(StrEnum):
    NONE = "none"
    REPLY = "reply"
    FORWARD = "forward"


def strip_prefixes(subject: str) -> tuple[str, bool]:
    """Remove leading Re:/AW:/RV:/Fwd:... (repeated); say whether any was there."""
    subject = subject or ""
    match = PREFIXES.match(subject)
    return (subject[match.end():], True) if match else (subject, False)


def prefix_kind(subject: str) -> Prefix:
    """What the outermost prefix says: "Fwd: Re: x" is a forward, "Re: Fwd: x" a reply."""
    match = PREFIX.match(subject or "")
    if match is None:
        return Prefix.NONE
    return Prefix.FORWARD if match.group(1).lower() in FORWARD_WORDS else Prefix.REPLY
