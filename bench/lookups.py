"""Per-mail lookup cost as the desk grows: weak-subject threading and the loop limits.

Fills the tickets and outbox tables of a migrated database to each size (1k, 100k, 1M
rows by default; rows generated in SQL, so filling is quick), then times the two queries
every mail pays for, through the same code the pipeline calls:

- threading: `make_lookups(...).recent_by_subject` (normalized subject, sender or
  organisation, active within the last 14 days);
- loop limits: `outbox.counts.recent_counts` (automatic mail per recipient, per ticket
  and in total over the last hour).

Data shape: 1,000 customers; 20 tickets per subject, last activity spread over a year;
outbox rows spread over 90 days to 5,000 recipients, plus 50 rows in the last hour. The
goal is a flat cost: the ratio to the 1k figure stays near 1.

    .venv/bin/python bench/lookups.py [--sizes 1000,100000,1000000] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from maildesk.mail.loops import LoopLimits
from maildesk.outbox.counts import recent_counts
from maildesk.store.db import make_engine, make_sessionmaker
from maildesk.store.migrate import upgrade
from maildesk.store.queries import make_lookups

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CUSTOMERS, PER_SUBJECT, RECIPIENTS, RECENT_OUTBOX = 1000, 20, 5000, 50
REPEAT = 200
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _series(dialect: str, start: int, stop: int) -> str:
    """A row source of i in [start, stop), as each engine spells it."""
    if dialect == "postgresql":
        return f"(SELECT generate_series({start}::bigint, {stop - 1}) AS i) AS s"
    return (f"(WITH RECURSIVE g(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM g "
            f"WHERE i < {stop - 1}) SELECT i FROM g) AS s")


def _ts(dialect: str, seconds_ago: str) -> str:
    """NOW minus an SQL expression of seconds, in the column's stored form."""
    now = NOW.replace(tzinfo=None).isoformat(sep=" ")
    if dialect == "postgresql":
        return f"(TIMESTAMPTZ '{now}+00' - ({seconds_ago}) * INTERVAL '1 second')"
    return f"datetime('{now}', '-' || ({seconds_ago}) || ' seconds')"


def _fill_contacts(engine: Engine) -> None:
    d = engine.dialect.name
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO contacts (id, email, name, organisation, vip, created_at) "
            f"SELECT i, 'c' || i || '@customer.example', '', "
            f"'org' || (i % 100), false, {_ts(d, '0')} FROM {_series(d, 1, CUSTOMERS + 1)}"))


def _fill(engine: Engine, start: int, stop: int) -> None:
    """Add tickets and outbox rows with ids start..stop-1."""
    d = engine.dialect.name
    subjects = f"'subject ' || (i / {PER_SUBJECT})"
    activity = _ts(d, f"(i * 7919) % {365 * 86400}")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO tickets (id, number, ref, status, type, priority, queue, tier, "
            "customer_id, organisation, subject, normalized_subject, channel, tags, watchers, "
            "spam, created_at, updated_at, last_activity_at, paused_seconds, reopen_count, "
            "escalation_level) "
            f"SELECT i, i, 'B-' || i, 'open', 'question', 'P3', 'general', 1, "
            f"(i % {CUSTOMERS}) + 1, 'org' || (((i % {CUSTOMERS}) + 1) % 100), {subjects}, "
            f"{subjects}, 'pipe', '[]', '[]', false, {activity}, {activity}, {activity}, "
            f"0, 0, 0 FROM {_series(d, start, stop)}"))
        created = (f"CASE WHEN i % {max(1, stop // RECENT_OUTBOX)} = 0 THEN "
                   f"{_ts(d, 'i % 3000')} ELSE {_ts(d, f'3600 + (i * 7919) % {90 * 86400}')} END")
        conn.execute(text(
            "INSERT INTO outbox (id, ticket_id, kind, message_id, sender, recipients, to_addr, "
            "data, automatic, state, attempts, next_attempt_at, created_at) "
            f"SELECT i, i, 'ack', 'bench-' || i || '@desk.example', 'support@desk.example', "
            f"'[]', 'r' || (i % {RECIPIENTS}) || '@customer.example', {_blob(d)}, true, "
            f"'sent', 1, {created}, {created} FROM {_series(d, start, stop)}"))
        if d == "postgresql":
            conn.execute(text("ANALYZE tickets"))
            conn.execute(text("ANALYZE outbox"))
        else:
            conn.execute(text("ANALYZE"))


def _blob(dialect: str) -> str:
    return "''::bytea" if dialect == "postgresql" else "X''"


def _median_ms(call: Callable[[int], object]) -> float:
    times = []
    for k in range(REPEAT):
        start = time.perf_counter()
        call(k)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _measure(engine: Engine, size: int) -> tuple[float, float]:
    sessions = make_sessionmaker(engine)
    limits = LoopLimits(desk_addresses=("support@desk.example",))
    since = NOW - timedelta(days=14)
    with sessions() as session:
        lookups = make_lookups(session)

        def thread(k: int) -> object:
            ticket = (k * 104729) % size + 1
            sender = f"c{ticket % CUSTOMERS + 1}@customer.example"
            return lookups.recent_by_subject(f"subject {ticket // PER_SUBJECT}", sender,
                                             None, since)

        def loops(k: int) -> object:
            row = (k * 104729) % size + 1
            return recent_counts(session, f"r{row % RECIPIENTS}@customer.example", row, NOW,
                                 limits)

        return _median_ms(thread), _median_ms(loops)


def _engine(name: str, workdir: Path) -> tuple[Engine, Callable[[], None]]:
    if name == "sqlite":
        engine = make_engine(f"sqlite:///{workdir}/lookups.db")
        return engine, engine.dispose
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{PG}?options=-csearch_path%3D{schema}")

    def drop() -> None:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return engine, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'engine':9} {'rows':>9} {'fill s':>7} {'threading ms':>13} {'x1k':>5} "
          f"{'loop limits ms':>15} {'x1k':>5}")
    for name in args.engines.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            engine, cleanup = _engine(name, Path(tmp))
            try:
                upgrade(engine)
                _fill_contacts(engine)
                filled, first = 1, None
                for size in sizes:
                    start = time.perf_counter()
                    _fill(engine, filled, size + 1)
                    fill_s, filled = time.perf_counter() - start, size + 1
                    thread_ms, loops_ms = _measure(engine, size)
                    first = first or (thread_ms, loops_ms)
                    print(f"{name:9} {size:>9} {fill_s:>7.1f} {thread_ms:>13.3f} "
                          f"{thread_ms / first[0]:>5.1f} {loops_ms:>15.3f} "
                          f"{loops_ms / first[1]:>5.1f}", flush=True)
            finally:
                cleanup()


if __name__ == "__main__":
    main()
