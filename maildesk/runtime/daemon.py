"""The asyncio supervisor behind `maildesk run`: intakes, workers, signals, systemd.

Everything the daemon does is either an intake (the SMTP/LMTP listener, one IMAP poller
per account) or a worker from an explicit list: `async def worker(holder, stop)` that
returns once `stop` is set, and takes `holder.current` (the desk snapshot) for each unit
of work, so that a reload reaches it at the next mail or pass, never in the middle. A worker that crashes is logged and started again; the
daemon itself stops only on SIGTERM/SIGINT, after the mail in flight is answered.
SIGHUP reloads maildesk.toml and runs the reload hooks; on any error the running
version stays.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import sdnotify

from maildesk.auth.accounts import states as oauth_states
from maildesk.config.model import Config, ImapAccount, load_config
from maildesk.errors import ConfigError, Problem, TemporaryFailure
from maildesk.intake import imap, smtp
from maildesk.intake.receiver import Receiver
from maildesk.outbox.relay import RELAY_CHECK_EVERY, RelayHealth, probe_relay
from maildesk.outbox.worker import outbox_worker
from maildesk.privacy.retention import retention_worker
from maildesk.runtime.desk import DeskHolder
from maildesk.runtime.metrics import Metrics
from maildesk.runtime.processing import Processing
from maildesk.runtime.store_metrics import StoreCollector
from maildesk.sla.scheduler import timer_worker
from maildesk.store.db import transaction
from maildesk.store.models import DaemonStatus
from maildesk.web.app import web_worker
from maildesk.webhooks.worker import webhook_worker

log = logging.getLogger(__name__)

Worker = Callable[[DeskHolder, asyncio.Event], Awaitable[None]]

HEARTBEAT_EVERY = 10.0
SHUTDOWN_GRACE = 8.0  # systemd's TimeoutStopSec is longer; SIGTERM to exit stays under 10 s
RESTART_DELAY = 5.0  # before a crashed worker is started again


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep unless stopped first; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


WATCH_EVERY = 5.0


async def watch_worker(holder: DeskHolder, stop: asyncio.Event) -> None:
    """Pick up edited rule files without a restart or a SIGHUP."""
    while not await pause(stop, WATCH_EVERY):
        await asyncio.to_thread(holder.reload_if_changed)


# The background workers of every daemon, in start order, one line each. The processing
# workers ([daemon] workers of them) are added by the Daemon, which wires them to intake.
WORKERS: list[tuple[str, Worker]] = [
    ("watch", watch_worker),
    ("outbox", outbox_worker),
    ("timers", timer_worker),
    ("web", web_worker),
    ("webhooks", webhook_worker),
    ("retention", retention_worker),
]



def imap_worker(account: ImapAccount, receiver: Receiver) -> Worker:
    """An IMAP poller in its own thread (imapclient is blocking), stopped with the daemon."""

    async def worker(holder: DeskHolder, stop: asyncio.Event) -> None:
        halt = threading.Event()
        thread = threading.Thread(target=imap.Poller(account, receiver).serve, args=(halt,),
                                  name=f"imap-{account.name}", daemon=True)
        thread.start()
        await stop.wait()
        halt.set()
        await asyncio.to_thread(thread.join, SHUTDOWN_GRACE)

    return worker


def needs_restart(old: Config, new: Config) -> list[str]:
    """Sections a reload cannot apply to a running daemon. Everything else applies live:
    [desk], [threading], [loops], [relay] (the sender reads it before each pass), [web]
    (the site is opened again on the new address), [agents], [sla], [kb], [import],
    rules, templates and SLA files."""
    pairs = {"database": (old.database.url, new.database.url), "smtp": (old.smtp, new.smtp),
             "imap": (old.imap, new.imap), "metrics": (old.metrics, new.metrics),
             "outbox": (old.outbox, new.outbox), "daemon": (old.daemon, new.daemon)}
    return [name for name, (a, b) in pairs.items() if a != b]


class Daemon:
    """Starts the intakes and workers, answers signals, and reports to systemd."""

    def __init__(self, holder: DeskHolder, config_path: Path | None = None, *,
                 workers: list[tuple[str, Worker]] | None = None,
                 heartbeat_every: float = HEARTBEAT_EVERY) -> None:
        self.holder = holder
        desk = holder.current
        self.config_path = config_path or desk.config.path
        self.background = list(WORKERS if workers is None else workers)
        self.heartbeat_every = heartbeat_every
        self.metrics = Metrics()
        self.metrics.watch_oauth(lambda now: oauth_states(self.holder.current.config, now))
        self.metrics.watch_store(StoreCollector(desk.sessions, desk.clock))
        self.processing = Processing(holder, self.metrics)
        self.receiver = Receiver(holder, self.metrics, stored=self.processing.wake)
        self.processing.attach(self.receiver)
        self.stop = asyncio.Event()
        self.listeners: list[smtp.Listener] = []
        self.notifier = sdnotify.SystemdNotifier()
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.started_at: datetime = desk.clock()
        self.relay_health = RelayHealth()
        self.started_config = desk.config  # what the listener, IMAP and metrics run with
        self.restart_needed: list[str] = []

    def workers(self) -> list[tuple[str, Worker]]:
        """Everything that runs besides the listener, named for the logs."""
        accounts = [(f"imap:{a.name}", imap_worker(a, self.receiver))
                    for a in self.holder.current.config.imap]
        processing = [(f"process-{n}", self.processing.worker)
                      for n in range(1, self.processing.count() + 1)]
        return [*processing, *self.background, ("heartbeat", self.heartbeat),
                ("watchdog", self.watchdog), ("relay-check", self.relay_check), *accounts]

    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT; exit status 0 after a clean stop."""
        self._install_signals()
        config = self.holder.current.config
        if config.smtp.enabled:
            self.listeners.append(await smtp.listen(config.smtp, self.receiver))
        metrics_server = self.metrics.serve(config.metrics)
        tasks = [asyncio.create_task(self._guard(name, w), name=name) for name, w in self.workers()]
        self.notifier.notify("READY=1")
        log.info("maildesk running as %s: %d worker(s), %d listener(s)", self.name,
                 len(tasks), len(self.listeners))
        await self.stop.wait()
        self.notifier.notify("STOPPING=1")
        await self._shutdown(tasks)
        if metrics_server is not None:
            metrics_server.shutdown()
        log.info("maildesk stopped")
        return 0

    def request_stop(self) -> None:
        log.info("stopping: finishing mail in flight")
        self.stop.set()

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        """Stop taking mail, answer what is in flight, then stop the workers."""
        for listener in self.listeners:
            listener.stop_accepting()
        if not await asyncio.to_thread(self.receiver.wait_idle, SHUTDOWN_GRACE):
            log.warning("stopping with %d mail(s) still in flight", self.receiver.in_flight)
        for listener in self.listeners:
            await listener.close_sessions()
        _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE) if tasks else ((), ())
        for task in pending:
            task.cancel()
        await asyncio.to_thread(self._beat, "stopped")

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, self.reload))

    async def _guard(self, name: str, worker: Worker) -> None:
        """Run a worker; if it crashes, log it and start it again after a pause."""
        while not self.stop.is_set():
            try:
                await worker(self.holder, self.stop)
                return
            except Exception as exc:  # noqa: BLE001 - one broken worker must not stop intake
                log.exception("worker %s crashed; restarting in %.0fs", name, RESTART_DELAY)
                self.metrics.error(f"worker:{name}", f"{exc.__class__.__name__}: {exc}")
                await pause(self.stop, RESTART_DELAY)

    def reload(self) -> list[Problem]:
        """SIGHUP: re-read maildesk.toml, rules, templates and SLA into a new snapshot.

        A broken maildesk.toml keeps the whole running snapshot; a broken rule, template
        or SLA file keeps that part's last good version.
        """
        self.notifier.notify("RELOADING=1")
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload: %s", problem)
            log.error("reload: keeping the running configuration")
            self.notifier.notify("READY=1")
            return exc.problems
        self.restart_needed = needs_restart(self.started_config, config)
        if self.restart_needed:
            log.warning("reload: %s changed; not applied until the daemon restarts",
                        ", ".join(f"[{s}]" for s in self.restart_needed))
        problems = self.holder.reload(config)
        log.info("reloaded %s (%d problem(s))", self.config_path, len(problems))
        self._beat("running")  # `maildesk status` shows what needs a restart at once
        self.notifier.notify("READY=1")
        return problems

    async def heartbeat(self, holder: DeskHolder, stop: asyncio.Event) -> None:
        """Write this daemon's DaemonStatus row for `maildesk status`."""
        while True:
            await asyncio.to_thread(self._beat, "running")
            if await pause(stop, self.heartbeat_every):
                return

    def _beat(self, state: str) -> None:
        stats = self.metrics.snapshot()
        stats.update(state=state, interval=self.heartbeat_every,
                     listening=[f"{self.holder.current.config.smtp.protocol}:{lst.port}"
                                for lst in self.listeners],
                     imap=[a.name for a in self.holder.current.config.imap],
                     restart_needed=self.restart_needed)
        try:
            with transaction(self.holder.current.sessions) as session:
                row = session.get(DaemonStatus, self.name) or DaemonStatus(
                    name=self.name, started_at=self.started_at)
                row.heartbeat_at, row.stats = self.holder.current.clock(), stats
                row.last_error = stats.get("last_error")
                session.add(row)
        except TemporaryFailure as exc:
            log.warning("heartbeat: %s", exc)

    async def relay_check(self, holder: DeskHolder, stop: asyncio.Event) -> None:
        """Probe the relay at start-up and then regularly; a dead relay is logged once.
        The current snapshot each time, so a reloaded [relay] is probed at once."""
        while True:
            desk = holder.current
            error = await probe_relay(desk.config.relay)
            self.relay_health.observe(desk.config.relay, error, desk.clock())
            self.metrics.relay(self.relay_health.snapshot())
            if await pause(stop, RELAY_CHECK_EVERY):
                return

    async def watchdog(self, holder: DeskHolder, stop: asyncio.Event) -> None:
        """WATCHDOG=1 at half of systemd's WatchdogSec, from the event loop itself, so a
        blocked loop stops the pings and systemd restarts the daemon."""
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        if usec <= 0:
            return
        while True:
            self.notifier.notify("WATCHDOG=1")
            if await pause(stop, usec / 2_000_000):
                return


def serve(holder: DeskHolder, config_path: Path | None = None) -> int:
    """Run a daemon on this desk until it is told to stop."""
    # aiosmtpd logs every SMTP command at INFO; the intake logs one line per mail instead.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    return asyncio.run(Daemon(holder, config_path).run())
