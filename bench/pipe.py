"""Wall time of one `maildesk ingest` process per mail, as an MTA pipe transport runs it.

Compares, in the same run and on the same SQLite desk:
- `python -c pass` (interpreter start-up, the floor);
- a bare script: stdlib header parse plus one durable SQLite INSERT of the raw bytes;
- `maildesk ingest --no-process` (store only; the daemon processes the mail later);
- `maildesk ingest` (store, then run the whole pipeline).

    .venv/bin/python bench/pipe.py [-n 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import write_desk  # noqa: E402

BARE = """
import sqlite3, sys
from email.parser import BytesHeaderParser
data = sys.stdin.buffer.read()
mid = BytesHeaderParser().parsebytes(data).get("Message-ID")
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, mid TEXT UNIQUE, data BLOB)")
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT OR IGNORE INTO raw (mid, data) VALUES (?, ?)", (mid, data))
db.execute("COMMIT")
"""


def _mail(n: int) -> bytes:
    return (f"From: Customer {n} <c{n}@customer.example>\r\nTo: support@acme.example\r\n"
            f"Subject: Printer {n} does not print\r\nMessage-ID: <pipe-{n}-{time.time_ns()}"
            f"@customer.example>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"The printer on floor {n} shows a paper jam.\r\n").encode()


def _time(argv: list[str], count: int, stdin: bool = True) -> float:
    """Median wall seconds of `count` runs, each fed a fresh mail."""
    times = []
    for n in range(count):
        start = time.perf_counter()
        done = subprocess.run(argv, input=_mail(n) if stdin else None, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{argv} failed: {done.stderr.decode()}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="processes per variant")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        config = write_desk(Path(tmp) / "desk", f"sqlite:///{tmp}/desk.db")
        # The first run migrates the new database; it is not counted.
        subprocess.run([py, "-m", "maildesk", "-c", str(config), "db", "upgrade"], check=True,
                       capture_output=True)
        rows = [
            ("python -c pass", _time([py, "-c", "pass"], args.n, stdin=False)),
            ("bare parse + SQLite insert", _time([py, "-c", BARE, f"{tmp}/bare.db"], args.n)),
            ("maildesk ingest --no-process",
             _time([py, "-m", "maildesk", "-c", str(config), "ingest", "--no-process"], args.n)),
            ("maildesk ingest", _time([py, "-m", "maildesk", "-c", str(config), "ingest"],
                                      args.n)),
        ]
    base = rows[0][1]
    print(f"{'variant':30} {'median s':>9} {'x python':>9}")
    for name, seconds in rows:
        print(f"{name:30} {seconds:>9.3f} {seconds / base:>9.1f}")


if __name__ == "__main__":
    main()
