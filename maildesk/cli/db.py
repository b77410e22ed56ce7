"""`maildesk db upgrade|current`: schema migrations (Alembic)."""

from __future__ import annotations

import argparse

from maildesk.cli.common import config_from
from maildesk.store.db import make_engine
from maildesk.store.migrate import current_revision, head_revision, upgrade


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("db", help="database schema migrations")
    actions = parser.add_subparsers(dest="db_command", required=True)
    up = actions.add_parser("upgrade", help="apply pending migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=run_upgrade)
    actions.add_parser("current", help="show the schema revision").set_defaults(
        handler=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    engine = make_engine(config_from(args).database.url)
    upgrade(engine, args.revision)
    print(f"schema at {current_revision(engine)}")
    return 0


def run_current(args: argparse.Namespace) -> int:
    engine = make_engine(config_from(args).database.url)
    current, head = current_revision(engine), head_revision(engine)
    print(f"current {current or '(empty)'}, head {head}")
    return 0 if current == head else 1
