"""Processing throughput of one `maildesk run` against two on one PostgreSQL database.

Starts the daemon(s) on an empty database, stores M mails at once (a quarter of them
replies to an earlier one, so the conversation order is exercised), and measures the
time until every mail is processed. Both runs use the same [daemon] workers per daemon;
the ratio printed is two daemons' rate over one daemon's, measured in the same run.

    .venv/bin/python bench/two_daemons.py --messages 400 --workers 2
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "integration"),
                str(REPO / "bench")]

from daemon_helpers import DaemonProcess, make_desk  # noqa: E402
from smtp_load import pg_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from maildesk.config.model import load_config  # noqa: E402
from maildesk.pipeline.flow import store  # noqa: E402
from maildesk.runtime.desk import open_desk  # noqa: E402
from maildesk.store.models import RawMessage  # noqa: E402
from maildesk.types import RawMail, RawState, Source  # noqa: E402


def message(n: int) -> bytes:
    """Every fourth mail answers the one before it."""
    head = (f"From: Customer {n} <c{n}@cust{n % 40}.example>\r\nTo: support@acme.example\r\n"
            f"Message-ID: <bench-{n}@cust{n % 40}.example>\r\n"
            "Date: Wed, 2 Dec 2026 10:00:00 +0000\r\n")
    if n % 4 == 3:
        head += (f"Subject: Re: printer {n - 1} offline\r\n"
                 f"In-Reply-To: <bench-{n - 1}@cust{(n - 1) % 40}.example>\r\n")
    else:
        head += f"Subject: printer {n} offline\r\n"
    return (head + f"\r\nPrinter {n} shows offline since this morning.\r\n").encode()


def waiting(desk) -> int:  # type: ignore[no-untyped-def]  # noqa: ANN001
    with desk.sessions() as session:
        return session.execute(select(func.count()).select_from(RawMessage).where(
            RawMessage.state == RawState.RECEIVED.value)).scalar_one()


def run(daemons: int, messages: int, workers: int) -> float:
    """Processed mails per second with this many daemons."""
    url, drop = pg_database()
    root = Path(tempfile.mkdtemp(prefix="maildesk-two-daemons-"))
    started: list[DaemonProcess] = []
    try:
        extra = f"[daemon]\nworkers = {workers}\npoll_interval = 0.2\n"
        configs = [make_desk(root / f"d{i}", url, extra) for i in range(daemons)]
        for config in configs:
            started.append(DaemonProcess(config))
            started[-1].start()
        desk = open_desk(load_config(configs[0]))
        raws = [RawMail(data=message(n), source=Source.PIPE) for n in range(messages)]
        begin = time.perf_counter()
        store(desk, raws)
        while waiting(desk):
            time.sleep(0.05)
        elapsed = time.perf_counter() - begin
        desk.close()
        return messages / elapsed
    finally:
        for daemon in started:
            daemon.kill()
        drop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", "-m", type=int, default=400)
    parser.add_argument("--workers", "-w", type=int, default=2)
    args = parser.parse_args()
    one = run(1, args.messages, args.workers)
    two = run(2, args.messages, args.workers)
    print(f"postgres one daemon  ({args.workers} workers): {one:7.1f} msgs/s processed")
    print(f"postgres two daemons ({args.workers} workers each): {two:7.1f} msgs/s processed")
    print(f"two / one: {two / one:.2f}x  ({args.messages} mails, a quarter replies)")


if __name__ == "__main__":
    main()
