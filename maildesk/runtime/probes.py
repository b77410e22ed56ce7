"""`maildesk check --connect`: talk to the relay, each IMAP account and the database.

Each probe returns one Probe saying what it reached and, when it failed, why; nothing is
sent, fetched or written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text

from maildesk.config.model import Config, ImapAccount
from maildesk.outbox.relay import probe_relay, target
from maildesk.store.db import make_engine
from maildesk.store.migrate import current_revision, head_revision


@dataclass(frozen=True, slots=True)
class Probe:
    what: str  # "relay 127.0.0.1:25"
    error: str | None = None  # None: it answered as expected
    note: str = ""

    def __str__(self) -> str:
        if self.error is None:
            return f"{self.what}: OK{f' ({self.note})' if self.note else ''}"
        return f"{self.what}: FAILED: {self.error}"


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def check_relay(config: Config) -> list[Probe]:
    error = asyncio.run(probe_relay(config.relay))
    return [Probe(f"relay {target(config.relay)}", error)]


def _imap(account: ImapAccount) -> Probe:
    from maildesk.intake.imap import connect  # imapclient only when there is an account

    what = f"imap {account.name} ({account.host}:{account.port})"
    try:
        client = connect(account)
        try:
            exists = client.select_folder(account.folder, readonly=True).get(b"EXISTS", 0)
        finally:
            client.logout()
    except Exception as exc:  # every failure is the admin's to read, whatever its kind
        return Probe(what, _reason(exc))
    return Probe(what, note=f"{account.folder}: {exists} message(s)")


def check_imap(config: Config) -> list[Probe]:
    return [_imap(account) for account in config.imap]


def check_database(config: Config) -> list[Probe]:
    engine = make_engine(config.database.url)
    what = f"database {engine.url.render_as_string(hide_password=True)}"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current, head = current_revision(engine), head_revision(engine)
    except Exception as exc:  # as above: shown, never raised
        return [Probe(what, _reason(exc))]
    finally:
        engine.dispose()
    if current != head:
        return [Probe(what, f"schema at {current or 'nothing'}, wanted {head}: "
                            "run `maildesk db upgrade`")]
    return [Probe(what, note=f"schema {current}")]


PROBES: list[Callable[[Config], list[Probe]]] = [check_database, check_relay, check_imap]


def probe_all(config: Config) -> list[Probe]:
    return [probe for check in PROBES for probe in check(config)]
