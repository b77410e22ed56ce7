"""Accent- and case-insensitive text folding: the one fold of the desk.

Admins write "caído" or "caido" and customers type either, often without accents on a
phone, so everything the desk compares as words is folded the same way: rule `contains`
needles (once, at load time) and message text (once per message), knowledge-base queries,
agents' #command words and names, and the subjects the threader compares. The fold is
casefold, NFKD decomposition, then combining marks removed. "ñ" folds to "n" as a
consequence, which is what a search box in Spanish usually does.
"""

from __future__ import annotations

import re
import unicodedata

# Combining marks left behind by NFKD: diacritics, extended, supplement, for symbols, half marks.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def fold(text: str) -> str:
    """Return `text` without accents and case, for substring comparison."""
    if text.isascii():
        return text.lower()  # the common case, and ten times faster
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))
