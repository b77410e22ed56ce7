"""Report speed: N generated tickets (default 100,000), each format timed on each engine.

Tickets are bulk-inserted (executemany in batches, one transaction) with realistic
spreads: 90 days of history, types, queues, priorities, channels, 12 agents in 3 teams,
first-response and resolution durations, SLA due times and ~8% breaches, reopens,
satisfaction on ~30% of resolved tickets, tags and repeated subjects. Then, per engine,
`maildesk report` work (build + render) is timed for text, csv, json and html over the
whole range (every ticket), the last 30 days, and the whole range for one queue.

    .venv/bin/python bench/report.py [-n 100000] [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maildesk.reports import FORMATS, build, render  # noqa: E402
from maildesk.store.db import make_engine  # noqa: E402
from maildesk.store.migrate import upgrade  # noqa: E402
from maildesk.store.models import Contact, Ticket  # noqa: E402
from maildesk.tickets.threader import normalize_subject  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TZ = "Europe/Madrid"
NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
DAYS = 90
BATCH = 10_000
SUBJECTS = ["Printer not working", "No puedo acceder al correo", "Invoice question",
            "Servidor caído en producción", "VPN disconnects", "Solicitud de alta de usuario",
            "Password reset", "Facturación de noviembre", "Laptop screen broken",
            "Outlook keeps asking for password", "Impresora sin tóner", "Wi-Fi slow on floor 2"]
TAGS = ["printer", "vpn", "email", "billing", "hardware", "account", "network", "urgent"]
AGENTS = [f"agent{i}@acme.example" for i in range(12)]
TEAMS = ["first-line", "infra", "billing"]


def contacts(n: int) -> list[dict[str, object]]:
    return [dict(id=i + 1, email=f"customer{i}@org{i % 400}.example", name=f"Customer {i}",
                 organisation=f"org{i % 400}.example", vip=False, created_at=NOW)
            for i in range(n)]


def ticket(rng: random.Random, number: int, customers: int) -> dict[str, object]:
    created = NOW - timedelta(seconds=rng.randrange(DAYS * 86400))
    status = rng.choices(["new", "open", "pending", "resolved", "closed"],
                         [3, 7, 5, 25, 60])[0]
    answered = status != "new" and rng.random() < 0.97
    done = status in ("resolved", "closed")
    fr = int(rng.lognormvariate(7.5, 1.0)) if answered else None
    res = int(rng.lognormvariate(10, 1.0)) if done else None
    subject = rng.choice(SUBJECTS) + ("" if rng.random() < 0.6 else f" #{rng.randrange(999)}")
    agent = rng.randrange(len(AGENTS)) if status != "new" else None
    rated = done and rng.random() < 0.3
    return dict(
        number=number, ref=f"MD-{number}", status=status,
        type=rng.choice(["incident", "question", "request"]),
        priority=rng.choices(["P1", "P2", "P3", "P4"], [2, 10, 60, 28])[0],
        queue=rng.choices(["general", "billing", "infra"], [70, 15, 15])[0],
        team=TEAMS[agent % 3] if agent is not None else None,
        assignee=AGENTS[agent] if agent is not None else None, tier=1,
        customer_id=rng.randrange(customers) + 1, subject=subject,
        normalized_subject=normalize_subject(subject),
        channel=rng.choices(["smtp", "imap", "pipe", "import"], [50, 35, 10, 5])[0],
        tags=rng.sample(TAGS, rng.randrange(3)), watchers=[], spam=rng.random() < 0.01,
        created_at=created, updated_at=created, last_activity_at=created,
        first_response_at=created + timedelta(seconds=fr) if fr else None,
        first_response_seconds=fr, resolution_seconds=res,
        resolved_at=created + timedelta(seconds=res) if res else None,
        paused_seconds=0, reopen_count=1 if rng.random() < 0.05 else 0, escalation_level=0,
        response_due_at=created + timedelta(hours=4),
        resolution_due_at=created + timedelta(days=3),
        response_breached_at=created + timedelta(hours=4) if rng.random() < 0.08 else None,
        resolution_breached_at=created + timedelta(days=3) if rng.random() < 0.05 else None,
        satisfaction_score=rng.choices([1, 2, 3, 4, 5], [5, 5, 15, 35, 40])[0] if rated
        else None,
        satisfaction_comment="Took too long" if rated and rng.random() < 0.1 else None,
        satisfaction_at=created + timedelta(days=1) if rated else None)


def seed(engine: Engine, n: int) -> float:
    """Bulk-insert n tickets; returns the seconds it took."""
    rng = random.Random(42)
    started = time.perf_counter()
    people = max(100, n // 20)
    with engine.begin() as conn:
        conn.execute(insert(Contact.__table__), contacts(people))
        for first in range(0, n, BATCH):
            rows = [ticket(rng, i + 1, people) for i in range(first, min(n, first + BATCH))]
            conn.execute(insert(Ticket.__table__), rows)
    return time.perf_counter() - started


def time_formats(engine: Engine, first_day: date,
                 queue: str | None = None) -> dict[str, tuple[float, int]]:
    """Seconds (build + render) and output size per format, for first_day..NOW."""
    results = {}
    for fmt in FORMATS:
        started = time.perf_counter()
        with Session(engine) as session:
            report = build(session, timezone=TZ, now=NOW, first_day=first_day,
                           last_day=date(2024, 6, 30), queue=queue)
        output = render(report, fmt)
        results[fmt] = (time.perf_counter() - started, len(output))
    return results


def run_engine(name: str, engine: Engine, n: int) -> None:
    upgrade(engine)
    seconds = seed(engine, n)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE tickets"))
    print(f"\n{name}: inserted {n:,} tickets in {seconds:.1f} s")
    print(f"  {'format':<8}{'90 days (all)':>15}{'last 30 days':>15}{'90 d, billing':>15}"
          f"{'size (all)':>12}")
    every = time_formats(engine, date(2024, 4, 1))
    month = time_formats(engine, date(2024, 6, 1))
    billing = time_formats(engine, date(2024, 4, 1), "billing")
    for fmt in FORMATS:
        print(f"  {fmt:<8}{every[fmt][0]:>13.2f} s{month[fmt][0]:>13.2f} s"
              f"{billing[fmt][0]:>13.2f} s{every[fmt][1]:>10,} B")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    engines = args.engines.split(",")
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            run_engine("SQLite", engine, args.n)
            engine.dispose()
    if "postgres" in engines:
        schema = f"bench_report_{int(time.time())}"
        admin = make_engine(PG)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(f"{PG}?options=-csearch_path%3D{schema}")
        try:
            run_engine("PostgreSQL", engine, args.n)
        finally:
            engine.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
