"""Engine and sessions: SQLite in WAL mode by default, PostgreSQL by URL.

Storage errors are translated here into TemporaryFailure, so each edge can answer
the sender with "try again later" (SMTP 451, exit 75) instead of losing mail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from maildesk.errors import TemporaryFailure
from maildesk.store import unit

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, FULL sync so a commit survives power loss."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on
    # busy_timeout instead of failing with "database is locked" at their first write.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine configured for maildesk's durability needs."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise TemporaryFailure(f"storage unavailable: {exc}") from exc
        engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30},
                               **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep their rows for the transaction and write events in one go
    (see store/unit.py)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    unit.install(factory)
    return factory


def is_storage_error(exc: BaseException) -> bool:
    """True for errors meaning 'storage unavailable' rather than 'bad data'."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _relax_durability(session: Session) -> None:
    """Let this transaction's commit skip the disk flush.

    Only for work derived from data that is already durable (processing a stored raw
    mail): if a crash loses such a commit, the raw row is still 'received' and
    pipeline.recover() redoes the work. Intake commits stay fully synchronous.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


@contextlib.contextmanager
def transaction(factory: sessionmaker[Session], *, durable: bool = True) -> Iterator[Session]:
    """One unit of work; storage outages surface as TemporaryFailure."""
    try:
        with factory.begin() as session:
            if not durable:
                _relax_durability(session)
            yield session
    except (OperationalError, DBAPIError) as exc:
        if is_storage_error(exc):
            raise TemporaryFailure(f"storage unavailable: {exc.__class__.__name__}: "
                                   f"{str(exc).splitlines()[0]}") from exc
        raise
