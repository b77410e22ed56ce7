"""Token files in the storage dir: one JSON file per account, mode 0600.

The daemon's IMAP threads, its outbox sender and a `maildesk auth login` in another
process may all touch one file, so each read-modify-write holds an exclusive flock on a
lock file beside it, and a write goes to a temp file (created 0600) renamed over the old
one: a reader never sees half a file, and no token is ever world-readable.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from maildesk.auth.state import Failure, TokenState

_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_GUARD = threading.Lock()


class TokenStore:
    """Load, save and forget one account's tokens."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> TokenState:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return TokenState()
        return _decode(data)

    def save(self, state: TokenState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(_encode(state), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)

    def forget(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across threads of this process and across processes."""
        with _GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(self.path, threading.Lock())
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with thread_lock:
            fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)


def _encode(state: TokenState) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"access_token": state.access_token, "obtained_at": when(state.obtained_at),
            "expires_at": when(state.expires_at), "refresh_token": state.refresh_token,
            "scopes": list(state.scopes), "last_refresh": when(state.last_refresh),
            "last_error": state.last_error,
            "failure": state.failure.value if state.failure else None,
            "failures": state.failures, "cache": state.cache}


def _decode(data: dict[str, Any]) -> TokenState:
    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(data[key]) if data.get(key) else None

    return TokenState(
        access_token=data.get("access_token"), obtained_at=when("obtained_at"),
        expires_at=when("expires_at"), refresh_token=data.get("refresh_token"),
        scopes=tuple(data.get("scopes") or ()), last_refresh=when("last_refresh"),
        last_error=data.get("last_error"),
        failure=Failure(data["failure"]) if data.get("failure") else None,
        failures=int(data.get("failures") or 0), cache=data.get("cache"))
