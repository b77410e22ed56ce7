"""The running desk: configuration plus the resources every stage shares.

Built once by the CLI or the daemon and passed explicitly; there is no global.
Rules and templates are held as "last good" values so a bad edit never stops intake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .config import Config
from .errors import TemporaryFailure
from .store.db import make_engine, make_sessionmaker
from .store.migrate import ensure_schema
from .store.models import utcnow
from .threader import Policy

log = logging.getLogger(__name__)


@dataclass
class Desk:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow
    send_mail: bool = True  # False while importing history: thread and store, never answer
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def attachments_root(self) -> Path:
        return self.config.storage.attachments

    @property
    def quarantine_dir(self) -> Path:
        return self.config.storage.dir / "quarantine"

    def thread_policy(self) -> Policy:
        t = self.config.threading
        return Policy(prefix=self.config.desk.ticket_prefix,
                      desk_addresses=self.config.desk.addresses,
                      subject_match=t.subject_match, subject_match_days=t.subject_match_days,
                      reopen_days=t.reopen_days, public_domains=frozenset(t.public_domains))

    def close(self) -> None:
        self.engine.dispose()


def open_desk(config: Config, *, migrate: bool | None = None,
              clock: Callable[[], datetime] = utcnow) -> Desk:
    """Connect to storage (migrating when configured) and load rules and templates."""
    engine = make_engine(config.database.url)
    if config.database.auto_migrate if migrate is None else migrate:
        try:
            ensure_schema(engine)
        except (OperationalError, DBAPIError) as exc:
            raise TemporaryFailure(f"storage unavailable: {str(exc).splitlines()[0]}") from exc
    return Desk(config=config, engine=engine, sessions=make_sessionmaker(engine), clock=clock)
