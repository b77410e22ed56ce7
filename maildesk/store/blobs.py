"""Content-addressed attachment storage: each distinct payload is written once."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def blob_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256[2:4] / sha256


def save_blob(root: Path, payload: bytes) -> str:
    """Write payload under its SHA-256 (atomically, fsynced) unless already there."""
    sha = hashlib.sha256(payload).hexdigest()
    path = blob_path(root, sha)
    if path.exists():
        return sha
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha
