"""`maildesk ingest [FILE ...]`: store mail from files or stdin (an MTA pipe transport).

Exit 0 once each message is durably stored (a mail the pipeline cannot handle is kept in
quarantine: still 0, nothing is lost), 75 (EX_TEMPFAIL) when storage is unavailable so
the MTA queues the message and retries. Once stored, the mail is processed in order
before the exit; a storage error at that point leaves it stored for later, exit 0.

With --no-process the mail is only stored, state 'received', and the daemon's processing
workers (or the next `maildesk ingest`) processes it. That path imports only what storing
needs: no rules, templates, SLA calendars, pipeline stages or Alembic (unless the
database turns out not to be migrated yet), so an MTA can run it once per mail cheaply.
Imports of the full pipeline are therefore made inside the functions that need them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from maildesk.errors import ConfigError, TemporaryFailure
from maildesk.mail.addresses import normalise_address
from maildesk.types import RawMail, Source

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from maildesk.config.model import Config
    from maildesk.pipeline.flow import Accepted
    from maildesk.pipeline.item import Outcome

EX_TEMPFAIL = 75


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ingest", help="store and process mail from files or stdin")
    parser.add_argument("files", nargs="*", type=Path, help="RFC 5322 files (default: stdin)")
    parser.add_argument("--sender", "-f", help="envelope sender (Postfix: ${sender})")
    parser.add_argument("--recipient", "-r", action="append", default=[],
                        help="envelope recipient (Postfix: ${recipient}); repeatable")
    parser.add_argument("--no-process", action="store_true",
                        help="only store the mail; the daemon processes it later")
    parser.set_defaults(handler=run)


def _inputs(args: argparse.Namespace) -> list[RawMail]:
    found: list[tuple[bytes, Source, str | None]]
    if not args.files:
        found = [(sys.stdin.buffer.read(), Source.PIPE, None)]
    else:
        found = [(path.read_bytes(), Source.CLI, str(path)) for path in args.files]
    recipients = tuple(normalise_address(r) for r in args.recipient)
    return [RawMail(data=data, source=source, envelope_from=args.sender,
                    envelope_to=recipients, source_ref=ref, received_at=None)
            for data, source, ref in found]


def _describe(result: Accepted, outcome: Outcome | None) -> str:
    if outcome is None:
        return "duplicate" if not result.waiting else "stored, processing deferred"
    return f"{outcome.kind} {outcome.ref or ''}".rstrip()


def _store_and_process(args: argparse.Namespace, raws: list[RawMail]) -> None:
    """Store every mail (TemporaryFailure: exit 75), then process them in order.

    Once stored, the promise to the MTA is kept: a storage error while processing leaves
    the mail for the daemon (or the next ingest) and still exits 0.
    """
    from maildesk.cli.common import desk_from
    from maildesk.pipeline.flow import drain, recover, store

    desk = desk_from(args)
    stored = [store(desk, [raw])[0] for raw in raws]
    outcomes: dict[int, Outcome | None] = {}
    try:
        outcomes = {p.raw_id: p.outcome for p in drain(desk, {s.raw_id for s in stored
                                                              if s.waiting})}
        recover(desk)
    except TemporaryFailure as exc:
        print(f"maildesk ingest: stored; processing left for later: {exc}", file=sys.stderr)
    for raw, result in zip(raws, stored, strict=True):
        print(f"{raw.source_ref or 'stdin'}: {_describe(result, outcomes.get(result.raw_id))}")


def _store_only(config: Config, raws: list[RawMail]) -> None:
    """Commit each raw mail durably, and nothing else."""
    from maildesk.mail.headers import header_ids
    from maildesk.store.rawpipe import SchemaMissing, plain_id, sqlite_path, store_raw_sqlite

    path = sqlite_path(config.database.url)
    for raw in raws:
        message_id, refs = header_ids(raw.data)
        try:
            if path is None or not all(map(plain_id, (message_id, *refs))):
                raw_id, created = _store_sqlalchemy(config, raw, message_id, refs)
            else:
                raw_id, created = store_raw_sqlite(path, raw, message_id, refs)
        except SchemaMissing:
            if not config.database.auto_migrate:
                raise TemporaryFailure("no schema: run `maildesk db upgrade`") from None
            raw_id, created = _store_sqlalchemy(config, raw, message_id, refs)
        state = "stored" if created else "duplicate"
        print(f"{raw.source_ref or 'stdin'}: {state} raw={raw_id}")


def _store_sqlalchemy(config: Config, raw: RawMail, message_id: str | None,
                      refs: tuple[str, ...]) -> tuple[int, bool]:
    """Through SQLAlchemy (PostgreSQL, or a database to migrate first)."""
    from sqlalchemy.exc import DBAPIError

    from maildesk.store.db import make_engine, make_sessionmaker, transaction
    from maildesk.store.queries import store_raw

    engine = make_engine(config.database.url)
    sessions = make_sessionmaker(engine)

    def store() -> tuple[int, bool]:
        with transaction(sessions) as session:
            return store_raw(session, raw, message_id, refs)

    try:
        try:
            return store()
        except (TemporaryFailure, DBAPIError):
            # A database never migrated has no raw_messages table yet: migrate (the
            # only time this path loads Alembic) and try once more.
            if not config.database.auto_migrate:
                raise
            _migrate(engine)
            return store()
    finally:
        engine.dispose()


def _migrate(engine: Engine) -> None:
    from sqlalchemy.exc import DBAPIError

    from maildesk.store.migrate import ensure_schema

    try:
        ensure_schema(engine)
    except DBAPIError as exc:
        raise TemporaryFailure(f"storage unavailable: {str(exc).splitlines()[0]}") from exc


def run(args: argparse.Namespace) -> int:
    raws = _inputs(args)
    try:
        if args.no_process:
            from maildesk.config.model import find_config, load_config

            _store_only(load_config(find_config(args.config)), raws)
        else:
            _store_and_process(args, raws)
    except TemporaryFailure as exc:
        print(f"maildesk ingest: storage unavailable, try again later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except ConfigError as exc:
        # A broken rule or template must not bounce customers' mail: the MTA keeps it
        # queued until the admin has fixed the files.
        print(f"maildesk ingest: configuration error, try again later:\n{exc}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0
