"""SQL statements per mail: how many the pipeline sends to the database, by kind of mail.

Counts every statement (SQLAlchemy `before_cursor_execute`, executemany counted once)
while a generated corpus goes through `pipeline.accept` (store + process) on a fresh
desk, and prints the average per mail for new tickets, replies and auto-replies, with
the intake commit counted apart. `--top` lists the most frequent statement shapes.

    .venv/bin/python bench/statements.py [-n 200] [--engine sqlite|postgres] [--top 15]
"""

from __future__ import annotations

import argparse
import collections
import logging
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import event

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from conftest import write_desk  # noqa: E402
from corpus import DESK, generate, kinds  # noqa: E402

from maildesk.config.model import load_config  # noqa: E402
from maildesk.pipeline.flow import accept  # noqa: E402
from maildesk.runtime.desk import open_desk  # noqa: E402
from maildesk.types import RawMail, Source  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PRAGMA = re.compile(r"^\s*(PRAGMA|BEGIN|SET LOCAL|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)", re.I)


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.shapes: collections.Counter[str] = collections.Counter()

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if PRAGMA.match(statement):
            return
        self.count += 1
        self.shapes[" ".join(statement.split())[:110]] += 1


def _url(engine_name: str, root: Path) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{root}/desk.db"
    sys.path.insert(0, str(HERE))
    from ingest import pg_fresh_schema
    return pg_fresh_schema("bench_statements")


def measure(engine_name: str, n: int) -> tuple[dict[str, float], Counter, int]:
    mails = generate(n)
    with tempfile.TemporaryDirectory() as tmp:
        desk = open_desk(load_config(write_desk(Path(tmp) / "desk", _url(engine_name, Path(tmp)))))
        counter = Counter()
        event.listen(desk.engine, "before_cursor_execute", counter)
        per_kind: dict[str, list[int]] = collections.defaultdict(list)
        for mail in mails:
            before = counter.count
            accept(desk, RawMail(mail.data, Source.PIPE, envelope_to=(DESK,)))
            per_kind[mail.kind].append(counter.count - before)
        desk.close()
    averages = {k: sum(v) / len(v) for k, v in per_kind.items()}
    averages["all"] = counter.count / len(mails)
    return averages, counter, len(mails)


def main() -> None:
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--top", type=int, default=0, help="print the N most frequent shapes")
    args = parser.parse_args()
    averages, counter, count = measure(args.engine, args.n)
    print(f"{args.engine}: {count} mails {kinds(generate(args.n))}")
    print("statements per mail (intake + processing): " + "   ".join(
        f"{k} {v:.1f}" for k, v in averages.items()))
    for shape, times in counter.shapes.most_common(args.top):
        print(f"{times / count:6.2f}/mail  {shape}")


if __name__ == "__main__":
    main()
