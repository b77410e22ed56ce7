"""Storing one raw mail into SQLite with the standard library alone (the MTA pipe path).

`maildesk ingest --no-process` runs once per mail; importing SQLAlchemy costs many times
Python's own start-up, and storing the bytes needs one INSERT. This module writes the
same row `queries.store_raw` writes, with the same durability settings as `db.py`
(WAL, synchronous FULL, BEGIN IMMEDIATE) and the timestamp in the form SQLAlchemy's
SQLite dialect stores and reads back. Other engines use `store_raw`.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from maildesk.errors import TemporaryFailure
from maildesk.types import RawMail, RawState

BUSY_TIMEOUT_S = 30  # as db.SQLITE_BUSY_TIMEOUT_MS

INSERT = """INSERT INTO raw_messages (dedup_key, message_id, sha256, data, size, source,
    source_ref, envelope_from, envelope_to, received_at, state, attempts)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
    ON CONFLICT (dedup_key) DO NOTHING RETURNING id"""


INSERT_REF = "INSERT INTO raw_references (raw_id, ref) VALUES (?, ?)"


class SchemaMissing(Exception):
    """The database has no raw_messages table yet (never migrated)."""


def dedup_key(message_id: str | None, data: bytes) -> tuple[str, str]:
    """Mail is the same mail when its Message-ID is, or, lacking one, its bytes are."""
    sha = hashlib.sha256(data).hexdigest()
    return (f"mid:{message_id}" if message_id else f"sha:{sha}"), sha


def plain_id(message_id: str | None) -> bool:
    """An id this path stores exactly as the models would (short, printable ASCII).

    Anything else (over-long, NUL, other scripts) takes the SQLAlchemy path, whose column
    types clean and bound text: both paths must give the same stored form.
    """
    return message_id is None or (len(message_id) <= 500 and message_id.isascii()
                                  and message_id.isprintable())


def sqlite_path(url: str) -> Path | None:
    """The file of a plain file-backed SQLite URL, else None (use SQLAlchemy)."""
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    path = url.removeprefix("sqlite:///")
    return Path(path) if path and path != ":memory:" else None


def _sqlite_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def store_raw_sqlite(path: Path, raw: RawMail, message_id: str | None,
                     refs: tuple[str, ...] = ()) -> tuple[int, bool]:
    """Commit the raw bytes (and the ids they refer to) durably; return (id, created)
    like queries.store_raw. The refs must be plain ids (see plain_id)."""
    key, sha = dedup_key(message_id, raw.data)
    received = _sqlite_timestamp(raw.received_at or datetime.now(UTC))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    except (OSError, sqlite3.Error) as exc:
        raise TemporaryFailure(f"storage unavailable: {exc}") from exc
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(INSERT, (key, message_id, sha, raw.data, len(raw.data),
                                      str(raw.source), raw.source_ref, raw.envelope_from,
                                      "\n".join(raw.envelope_to), received,
                                      str(RawState.RECEIVED))).fetchone()
            created = row is not None
            if created and refs:
                db.executemany(INSERT_REF, [(row[0], ref) for ref in dict.fromkeys(refs)])
            if not created:
                row = db.execute("SELECT id FROM raw_messages WHERE dedup_key = ?",
                                 (key,)).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(row[0]), created
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            raise SchemaMissing(str(exc)) from exc
        raise TemporaryFailure(f"storage unavailable: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise TemporaryFailure(f"storage unavailable: {exc}") from exc
    finally:
        db.close()
