"""SMTP load on a running `maildesk run`: C concurrent clients send M messages.

Starts the daemon on a temp desk for each engine, prints msgs/s and the p50/p99 latency
from the end of DATA to the 250 reply, the time until every mail is processed as well,
and, for comparison in the same run: the same clients against a bare aiosmtpd sink that
answers 250 at once (the floor), the rate of the in-process accept() loop and of
`maildesk ingest` (one process per mail, as an MTA pipe transport runs it).

    .venv/bin/python bench/smtp_load.py --clients 20 --messages 400 --engine both
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "integration")]

from daemon_helpers import DaemonProcess, counts, mail, make_desk  # noqa: E402
from dovecot import free_port  # noqa: E402
from sqlalchemy import text  # noqa: E402

from maildesk.config.model import load_config  # noqa: E402
from maildesk.pipeline.flow import accept  # noqa: E402
from maildesk.runtime.desk import open_desk  # noqa: E402
from maildesk.store.db import make_engine  # noqa: E402
from maildesk.types import RawMail, Source  # noqa: E402

PG = os.environ.get("MAILDESK_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_database() -> tuple[str, callable]:  # type: ignore[valid-type]
    """A fresh schema; returns its URL and a function that drops it."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{PG}?options=-csearch_path%3D{schema}", drop


def send_one(client: smtplib.SMTP, data: bytes) -> float:
    """One transaction; the time from the final CRLF.CRLF to the reply."""
    client.mail("c@customer.example")
    client.rcpt("support@acme.example")
    client.putcmd("data")
    code, _ = client.getreply()
    assert code == 354, code
    client.send(data + b".\r\n")
    started = time.perf_counter()
    code, reply = client.getreply()
    elapsed = time.perf_counter() - started
    assert code == 250, (code, reply)
    return elapsed


def client_loop(port: int, numbers: list[int], tag: str, latencies: list[float]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo()
        for n in numbers:
            latencies.append(send_one(client, mail(n, tag)))



def drive(port: int, messages: int, clients: int, label: str) -> tuple[list[float], float]:
    """Send `messages` mails over `clients` concurrent connections; (latencies, seconds)."""
    latencies: list[float] = []
    shares = [list(range(i, messages, clients)) for i in range(clients)]
    threads = [threading.Thread(target=client_loop, args=(port, share, label, latencies))
               for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def smtp_run(url: str, root: Path, clients: int, messages: int) -> dict[str, float]:
    port = free_port()
    # every client comes from 127.0.0.1: let them all in
    daemon = DaemonProcess(make_desk(root / "smtp", url, f'[smtp]\nlisten = "127.0.0.1:{port}"\n'
                                     f"max_connections_per_client = {clients}\n"))
    daemon.start()
    started = time.perf_counter()
    latencies, elapsed = drive(port, messages, clients, "smtp")
    while waiting(url):
        time.sleep(0.05)
    processed = time.perf_counter() - started
    daemon.process.terminate()  # type: ignore[union-attr]
    daemon.wait(15)
    tickets, raws = counts(url)
    assert raws == messages, (raws, messages)
    return {**percentiles(latencies), "rate": messages / elapsed,
            "processed": messages / processed, "tickets": tickets}


def waiting(url: str) -> int:
    """Stored mail not processed yet."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM raw_messages WHERE state = 'received'")).scalar_one())
    finally:
        engine.dispose()


def percentiles(latencies: list[float]) -> dict[str, float]:
    latencies = sorted(latencies)
    return {"p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


class Sink:
    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        return "250 2.0.0 OK"


def sink_run(clients: int, messages: int) -> dict[str, float]:
    """The floor: the same clients against an aiosmtpd server that stores nothing."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    latencies, elapsed = drive(port, messages, clients, "sink")
    controller.stop()
    return {**percentiles(latencies), "rate": messages / elapsed}


def accept_run(url: str, root: Path, messages: int) -> float:
    desk = open_desk(load_config(make_desk(root / "accept", url)))
    started = time.perf_counter()
    for n in range(messages):
        accept(desk, RawMail(data=mail(n, "loop"), source=Source.PIPE))
    elapsed = time.perf_counter() - started
    desk.close()
    return messages / elapsed


def ingest_run(url: str, root: Path, messages: int) -> float:
    config = make_desk(root / "ingest", url)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    for n in range(messages):
        subprocess.run([sys.executable, "-m", "maildesk", "-c", str(config), "--log-level",
                        "WARNING", "ingest", "--recipient", "support@acme.example"],
                       input=mail(n, "pipe"), check=True, env=env, capture_output=True)
    return messages / (time.perf_counter() - started)


def bench(engine: str, clients: int, messages: int, pipe_messages: int) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"maildesk-bench-{engine}-"))
    urls, drops = [], []
    for _ in range(3):
        if engine == "sqlite":
            urls.append(f"sqlite:///{root}/db{len(urls)}.sqlite")
        else:
            url, drop = pg_database()
            urls.append(url)
            drops.append(drop)
    try:
        floor = sink_run(clients, messages)
        smtp = smtp_run(urls[0], root, clients, messages)
        loop = accept_run(urls[1], root, messages)
        pipe = ingest_run(urls[2], root, pipe_messages)
    finally:
        for drop in drops:
            drop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{engine:<8} bare aiosmtpd sink: {clients} clients x {messages} msgs: "
          f"{floor['rate']:7.1f} msgs/s  p50 {floor['p50']:6.1f} ms  p99 {floor['p99']:6.1f} ms")
    print(f"{engine:<8} smtp: {clients} clients x {messages} msgs: {smtp['rate']:7.1f} msgs/s  "
          f"p50 {smtp['p50']:6.1f} ms  p99 {smtp['p99']:6.1f} ms  ({smtp['tickets']} tickets, "
          f"all processed at {smtp['processed']:.1f} msgs/s)")
    print(f"{engine:<8} smtp vs sink: rate {smtp['rate'] / floor['rate']:.2f}x, "
          f"p99 {smtp['p99'] - floor['p99']:+.1f} ms")
    print(f"{engine:<8} in-process accept() loop:           {loop:7.1f} msgs/s")
    print(f"{engine:<8} maildesk ingest (process per mail): {pipe:7.1f} msgs/s "
          f"({pipe_messages} msgs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", "-c", type=int, default=20)
    parser.add_argument("--messages", "-m", type=int, default=400)
    parser.add_argument("--pipe-messages", type=int, default=20)
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    for engine in engines:
        bench(engine, args.clients, args.messages, args.pipe_messages)


if __name__ == "__main__":
    main()
