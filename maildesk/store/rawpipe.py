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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from maildesk.errors import TemporaryFailure
from maildesk.mail.fingerprint import fingerprint
from maildesk.types import RawMail, RawState

BUSY_TIMEOUT_S = 30  # as db.SQLITE_BUSY_TIMEOUT_MS

INSERT = """INSERT INTO raw_messages (dedup_key, message_id, sha256, fingerprint, data, size,
    source, source_ref, envelope_from, envelope_to, received_at, state, attempts)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
    ON CONFLICT (dedup_key) DO NOTHING RETURNING id"""
SAME_ID = "SELECT id, fingerprint FROM raw_messages WHERE message_id = ? ORDER BY id"


INSERT_REF = "INSERT INTO raw_references (raw_id, ref) VALUES (?, ?)"


class SchemaMissing(Exception):
    """The database has no raw_messages table yet (never migrated)."""


@dataclass(frozen=True, slots=True)
class Keys:
    """How a raw mail is told apart from the others (see `dedup_key`)."""

    first: str  # the key of the first mail with this Message-ID (or of this content)
    variant: str  # the key of a different mail that reuses the Message-ID
    sha256: str  # of the bytes as received
    fingerprint: str  # of the content without trace fields (mail/fingerprint.py)


def dedup_key(message_id: str | None, data: bytes) -> Keys:
    """A mail is the same mail when its Message-ID and its fingerprint are.

    The first mail with a Message-ID takes `mid:ID`; a later one with that id is a
    duplicate if its fingerprint matches a stored copy's, else a different mail stored
    under `mid:ID#fp:FINGERPRINT`. Mail without a Message-ID is keyed by its fingerprint.
    """
    sha = hashlib.sha256(data).hexdigest()
    fp = fingerprint(data)
    if not message_id:
        return Keys(f"fp:{fp}", f"fp:{fp}", sha, fp)
    return Keys(f"mid:{message_id}", f"mid:{message_id}#fp:{fp}", sha, fp)


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
    keys = dedup_key(message_id, raw.data)
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
            result = _insert(db, raw, message_id, keys, received)
            if result[1] and refs:
                db.executemany(INSERT_REF, [(result[0], ref) for ref in dict.fromkeys(refs)])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return result
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            raise SchemaMissing(str(exc)) from exc
        raise TemporaryFailure(f"storage unavailable: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise TemporaryFailure(f"storage unavailable: {exc}") from exc
    finally:
        db.close()


def _insert(db: sqlite3.Connection, raw: RawMail, message_id: str | None, keys: Keys,
            received: str) -> tuple[int, bool]:
    def insert(key: str) -> int | None:
        row = db.execute(INSERT, (key, message_id, keys.sha256, keys.fingerprint, raw.data,
                                  len(raw.data), str(raw.source), raw.source_ref,
                                  raw.envelope_from, "\n".join(raw.envelope_to), received,
                                  str(RawState.RECEIVED))).fetchone()
        return None if row is None else int(row[0])

    new_id = insert(keys.first)
    if new_id is not None:
        return new_id, True
    if message_id is not None:
        same = same_mail(_stored_copies(db, message_id), keys.fingerprint)
        if same is not None:
            return same, False
        new_id = insert(keys.variant)
        if new_id is not None:
            return new_id, True
    row = db.execute("SELECT id FROM raw_messages WHERE dedup_key = ?", (keys.variant,))
    return int(row.fetchone()[0]), False


def _stored_copies(db: sqlite3.Connection, message_id: str) -> list[tuple[int, str]]:
    copies = []
    for raw_id, fp in db.execute(SAME_ID, (message_id,)).fetchall():
        if fp is None:  # stored before fingerprints were kept
            data = db.execute("SELECT data FROM raw_messages WHERE id = ?", (raw_id,))
            fp = fingerprint(bytes(data.fetchone()[0]))
        copies.append((int(raw_id), str(fp)))
    return copies


def same_mail(copies: list[tuple[int, str]], fp: str) -> int | None:
    """The stored copy (id, fingerprint) that is this mail again, or None."""
    return next((raw_id for raw_id, stored in copies if stored == fp), None)
