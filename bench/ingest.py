"""Ingest rates against the floor, on SQLite and PostgreSQL, with threading accuracy.

A generated help-desk corpus (bench/corpus.py: ~60% new tickets, ~35% replies threaded by
headers or by the subject tag, ~5% auto-replies; some attachments, much non-ASCII) is run
three ways per engine, each on a fresh database, one mail at a time in this process:

- floor: stdlib parse + one INSERT of the raw bytes, one commit per mail, on the same
  engine with the same durability settings (what any mail-to-database tool must pay);
- intake: what answers the sender (the raw bytes committed, `store_raw`);
- end to end: every mail stored and processed (`pipeline.accept`, then `recover` until
  nothing is left waiting), then the replies checked: each must sit on the ticket of
  the mail it answers.

Rates in msg/s, ratios against the floor of the same run (higher is better). The
default size is small; --big runs the 2,000-mail corpus of the issue.

    .venv/bin/python bench/ingest.py [-n 200 | --big] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import email
import logging
import sys
import tempfile
import time
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

from sqlalchemy import func, select, text

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from conftest import write_desk  # noqa: E402
from corpus import DESK, Generated, generate, kinds, threading_accuracy  # noqa: E402

from maildesk.config.model import load_config  # noqa: E402
from maildesk.mail.mime import header_message_id  # noqa: E402
from maildesk.pipeline.flow import accept, recover  # noqa: E402
from maildesk.runtime.desk import Desk, open_desk  # noqa: E402
from maildesk.store.db import make_engine, transaction  # noqa: E402
from maildesk.store.models import RawMessage  # noqa: E402
from maildesk.store.queries import store_raw  # noqa: E402
from maildesk.types import RawMail, RawState, Source  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def floor(url: str, mails: list[Generated]) -> float:
    """stdlib parse + one INSERT of the raw bytes per message, one commit each."""
    engine = make_engine(url)
    with engine.begin() as conn:
        blob = "BYTEA" if engine.dialect.name == "postgresql" else "BLOB"
        conn.execute(text(f"CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, mid TEXT, "
                          f"data {blob})"))
    started = time.perf_counter()
    for i, mail in enumerate(mails):
        parsed = email.message_from_bytes(mail.data, policy=default_policy)
        _ = parsed.get_body(("plain", "html"))
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_raw (id, mid, data) VALUES (:i, :m, :d)"),
                         {"i": i, "m": parsed["Message-ID"], "d": mail.data})
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(mails) / elapsed


def _raw(mail: Generated) -> RawMail:
    return RawMail(mail.data, Source.PIPE, envelope_to=(DESK,))


def intake(desk: Desk, mails: list[Generated]) -> float:
    """The raw bytes committed per mail: what an SMTP 250 or exit 0 waits for."""
    started = time.perf_counter()
    for mail in mails:
        raw = _raw(mail)
        with transaction(desk.sessions) as session:
            store_raw(session, raw, header_message_id(raw.data))
    return len(mails) / (time.perf_counter() - started)


def _waiting(desk: Desk) -> int:
    with desk.sessions() as session:
        return int(session.execute(select(func.count()).where(
            RawMessage.state == RawState.RECEIVED)).scalar_one())


def end_to_end(desk: Desk, mails: list[Generated]) -> float:
    """Every mail stored and processed, whether accept() processes it or leaves it queued."""
    started = time.perf_counter()
    for mail in mails:
        accept(desk, _raw(mail))
    while _waiting(desk):
        recover(desk, older_than=timedelta(0), limit=500)
    return len(mails) / (time.perf_counter() - started)


def pg_fresh_schema(schema: str = "bench_ingest") -> str:
    engine = make_engine(PG)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{PG}?options=-csearch_path%3D{schema}"


def _url(engine_name: str, root: Path, name: str) -> str:
    return (f"sqlite:///{root}/{name}.db" if engine_name == "sqlite"
            else pg_fresh_schema(f"bench_{name}"))


def run_engine(engine_name: str, mails: list[Generated]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = floor(_url(engine_name, root, "floor"), mails)
        desk = open_desk(load_config(write_desk(root / "intake", _url(engine_name, root,
                                                                        "intake"))))
        stored = intake(desk, mails)
        desk.close()
        desk = open_desk(load_config(write_desk(root / "e2e", _url(engine_name, root, "e2e"))))
        rate = end_to_end(desk, mails)
        good, total = threading_accuracy(desk.sessions, mails)
        desk.close()
    print(f"{engine_name:9} floor {base:7.1f} msg/s | intake {stored:7.1f} msg/s "
          f"({stored / base:4.2f}x floor) | end to end {rate:6.1f} msg/s "
          f"({rate / base:4.2f}x floor) | replies threaded {good}/{total} "
          f"({100 * good / max(total, 1):.1f}%)")


def main() -> None:
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="mails in the corpus")
    parser.add_argument("--big", action="store_true", help="the 2,000-mail corpus")
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    mails = generate(2000 if args.big else args.n)
    print(f"{len(mails)} messages: {kinds(mails)}; ratios against the floor of this run")
    for engine_name in args.engines.split(","):
        run_engine(engine_name, mails)


if __name__ == "__main__":
    main()
