"""Shared helpers of the daemon, SMTP and IMAP intake tests: desks, mail, waiting, counts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from conftest import write_desk
from sqlalchemy import func, select

from maildesk.store.db import make_engine
from maildesk.store.models import RawMessage, Ticket

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
# How long to wait for something a daemon does by itself. Generous, because a busy
# two-core machine can be very slow, and harmless, because waits end once it happened.
DEADLINE = float(os.environ.get("MAILDESK_TEST_DEADLINE", "180"))


def make_desk(root: Path, url: str, extra: str = "") -> Path:
    """A desk without the shipped rules (these tests are about intake, not rules)."""
    path = write_desk(root, url, extra, rules=False)
    (root / "rules").mkdir(exist_ok=True)
    return path


def mail(n: int, tag: str = "t", to: str = "support@acme.example") -> bytes:
    """A small customer mail with a unique Message-ID."""
    return (f"From: Customer {n} <c{n}@customer.example>\r\nTo: {to}\r\n"
            f"Subject: problem {tag}-{n}\r\nMessage-ID: <{tag}-{n}@customer.example>\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello, number {n} is broken.\r\n"
            ).encode()


def wait_until(predicate: Callable[[], T], timeout: float = DEADLINE, every: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def counts(url: str) -> tuple[int, int]:
    """(tickets, raw messages) in the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.execute(select(func.count()).select_from(Ticket)).scalar_one(),
                    conn.execute(select(func.count()).select_from(RawMessage)).scalar_one())
    finally:
        engine.dispose()


def message_ids(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(RawMessage.message_id)).scalars())
    finally:
        engine.dispose()


class LoopThread:
    """An asyncio loop in a thread, so blocking clients (smtplib) can talk to a server
    that runs on it in the same test process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class DaemonProcess:
    """`maildesk run` as a subprocess, the way systemd runs it."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log = config.parent / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready: str = "maildesk running") -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "maildesk", "-c", str(self.config), "run"],
            stdout=handle, stderr=handle, env=env, cwd=self.config.parent)
        start = self.log.stat().st_size if self.log.exists() else 0
        found = wait_until(lambda: ready in self.log.read_text()[start:]
                           or self.process.poll() is not None)  # type: ignore[union-attr]
        if not found or self.process.poll() is not None:
            raise RuntimeError(f"daemon did not start:\n{self.log.read_text()[-3000:]}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def maildesk(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "maildesk", "-c", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=DEADLINE)


def backlog(config: Path) -> dict[str, Any]:
    """The `backlog` part of `maildesk status --json` (what is not processed or sent)."""
    result = maildesk(config, "status", "--json")
    return json.loads(result.stdout)["backlog"] if result.stdout else {}


def wait_idle(config: Path, timeout: float = DEADLINE) -> dict[str, Any]:
    """Wait until the daemon has processed every stored mail and the outbox has nothing
    due; returns the last backlog seen (check its `idle`)."""
    seen: dict[str, Any] = {}

    def idle() -> bool:
        seen.update(backlog(config))
        return bool(seen.get("idle"))

    wait_until(idle, timeout, every=0.5)
    return seen
