"""The signing keys: the current secret and, for a grace period, the ones it replaced.

`secret_file` holds the current key (one line, mode 0600). `maildesk secret rotate`
writes a new one there and keeps the old key in `<secret_file>.previous` (mode 0600),
one `EXPIRES KEY` line per retired key, EXPIRES a Unix time. Tokens carry the id of the
key that signed them (tokens.key_id), so a retired key verifies only its own tokens and
only until it expires: after the grace period every token it signed is refused.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from maildesk.errors import ConfigError, Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetiredKey:
    key: bytes
    expires: int  # Unix time after which its tokens are refused


def previous_file(secret_file: Path) -> Path:
    return secret_file.with_name(secret_file.name + ".previous")


def read_retired(secret_file: Path) -> tuple[RetiredKey, ...]:
    """Every retired key on file, expired or not; a malformed line is skipped."""
    path = previous_file(secret_file)
    if not path.is_file():
        return ()
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        expires, _, key = line.strip().partition(" ")
        if not line.strip():
            continue
        if not (expires.isdigit() and key.strip()):
            log.warning("%s:%d: not 'EXPIRES KEY', ignored", path, number)
            continue
        found.append(RetiredKey(key.strip().encode(), int(expires)))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys as read once, for one desk snapshot: nothing is read per mail or request."""

    current: bytes
    retired: tuple[RetiredKey, ...] = ()
    stamp: tuple[int, ...] = ()  # the files' modification times when read
    problem: str = ""  # why the secret file could not be read; nothing is signed then

    def signing_key(self) -> bytes:
        if self.problem or not self.current:
            raise ConfigError(Problem("secret_file", None, "", self.problem or "is empty"))
        return self.current

    def live(self, now: float) -> tuple[bytes, ...]:
        """The current key first, then the retired keys still in their grace period."""
        if self.problem or not self.current:
            return ()
        return (self.current, *(r.key for r in self.retired
                                if r.expires > now and r.key != self.current))


def stamp(secret_file: Path) -> tuple[int, ...]:
    """Changes when `maildesk secret rotate` (or an admin) writes either key file."""
    found = []
    for path in (secret_file, previous_file(secret_file)):
        try:
            found.append(path.stat().st_mtime_ns)
        except OSError:
            found.append(0)
    return tuple(found)


def load_keyring(secret_file: Path) -> Keyring:
    """Read the current and retired keys; an unreadable secret file gives a keyring that
    verifies nothing and refuses to sign, naming the problem."""
    before = stamp(secret_file)
    try:
        current = secret_file.read_bytes().strip()
    except OSError as exc:
        return Keyring(b"", (), before, f"{secret_file}: cannot read ({exc.strerror})")
    return Keyring(current, read_retired(secret_file), before)




def _write_private(path: Path, text: str) -> None:
    """Write `text` atomically to `path`, readable by its owner only."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def rotate(secret_file: Path, grace: int, now: float) -> bytes:
    """A new current key; the old one verifies its tokens for `grace` more seconds.

    The old key is saved before the new one replaces it, so a crash in between loses
    no key. Retired keys already past their grace period are dropped.
    """
    old = secret_file.read_bytes().strip()
    kept = [r for r in read_retired(secret_file) if r.expires > now]
    if grace > 0:
        kept.append(RetiredKey(old, int(now) + grace))
    _write_private(previous_file(secret_file),
                   "".join(f"{r.expires} {r.key.decode()}\n" for r in kept))
    new = secrets.token_hex(32)
    _write_private(secret_file, new + "\n")
    return new.encode()
