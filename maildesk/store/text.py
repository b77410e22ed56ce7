"""Text columns that behave the same on SQLite and PostgreSQL.

Mail is full of text PostgreSQL refuses and SQLite takes: NUL characters (a text value
may not contain U+0000 in PostgreSQL) and values longer than a VARCHAR (SQLite ignores
the length). The raw bytes are kept verbatim in `raw_messages.data`; every text column
goes through the two column types here, so each value is cleaned in this one place,
whether it is written or compared in a WHERE clause, and both engines store the same.

A value too long for its column keeps its head and gets a hash of the whole value as
suffix: two long Message-IDs that share a prefix stay distinct, and a lookup with the
full id finds the stored row because the comparison value is bounded the same way.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import String, Text, TypeDecorator

NUL = "\x00"
HASH_CHARS = 32  # hex digits of SHA-256 kept in the suffix: 128 bits against collisions
# PostgreSQL's btree entries hold at most about 2,700 bytes; a bounded value stays well
# below that even when every character takes several bytes in UTF-8.
MAX_BYTES = 2000


def clean_text(value: str) -> str:
    """The text without NUL, and with lone surrogates (undecodable bytes) as U+FFFD.

    Neither engine can store a lone surrogate; PostgreSQL cannot store NUL.
    """
    if NUL in value:
        value = value.replace(NUL, "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


def bounded(value: str, length: int | None) -> str:
    """`value`, or for one too long: its head, '~' and a hash of the whole value."""
    if length is None or (len(value) <= length and len(value.encode("utf-8")) <= MAX_BYTES):
        return value
    room = min(length, MAX_BYTES // 4)
    if room <= HASH_CHARS + 1:
        return value[:room]
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:HASH_CHARS]
    return f"{value[:room - HASH_CHARS - 1]}~{digest}"


def stored_form(value: str, length: int | None) -> str:
    """What a BoundedString(length) column stores for `value` (to map lookups back)."""
    return bounded(clean_text(value), length)


def column_length(column: Any) -> int | None:
    """The declared length of a (Bounded)String column, None for unbounded text."""
    return getattr(column.type, "length", None)


class BoundedString(TypeDecorator[str]):
    """VARCHAR(n) whose values are NUL-free and fit n on every engine (see module doc)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if not isinstance(value, str):
            return value
        return stored_form(value, getattr(self.impl, "length", None))


class CleanText(TypeDecorator[str]):
    """TEXT whose values are NUL-free on every engine."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return clean_text(value) if isinstance(value, str) else value
