"""Webhooks into a receiver of the tests' own (http.server on loopback) that checks every
signature, on both engines: queued with the event, in order, retried with backoff,
paused when a hook keeps failing, resumed by `maildesk webhooks retry`."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from maildesk.cli.main import main
from maildesk.cli.status import _print_webhooks as print_webhooks
from maildesk.cli.status import gather
from maildesk.outbox.send import flush_once
from maildesk.runtime.desk import Desk, DeskHolder
from maildesk.store import unit
from maildesk.store.db import transaction
from maildesk.store.models import Ticket, WebhookDelivery
from maildesk.store.queries import log_event
from maildesk.webhooks.signature import verify
from maildesk.webhooks.worker import deliver_pass, webhook_worker
from tests.integration.test_api import call, opened, token
from tests.integration.test_survey import WEB, serving
from tests.integration.test_tick import make_desk

SECRET = b"whsec-test-0123456789abcdef"


class Receiver:
    """Records each POST; answers with the scripted statuses, then 200."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.script: list[int] = []
        self.always: int | None = None
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.always or (receiver.script.pop(0) if receiver.script else 200)
                with receiver.arrived:
                    receiver.posts.append({
                        "body": body, "json": json.loads(body), "status": status,
                        "event": self.headers["Maildesk-Event"],
                        "delivery": self.headers["Maildesk-Delivery"],
                        "signed": verify(SECRET, self.headers["Maildesk-Signature"], body,
                                         time.time())})
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/maildesk"

    def wait_for(self, count: int) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.posts) >= count, timeout=15)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    thread.join(5)


def hooked_desk(root: Path, db_url: str, url: str, relay_port: int) -> Desk:
    root.mkdir(parents=True, exist_ok=True)
    (root / "hook-secret").write_bytes(SECRET + b"\n")
    return make_desk(root, db_url, WEB + f"""
[relay]
host = "127.0.0.1"
port = {relay_port}

[[webhooks]]
name = "crm"
url = "{url}"
events = ["ticket.created", "message.received", "ticket.status_changed", "message.sent"]
secret_file = "hook-secret"
backoff = 60
pause_after = 2
""")


@pytest.fixture
def desk(tmp_path: Path, db_url: str, receiver: Receiver, smtp_sink: Any) -> Iterator[Desk]:
    desk = hooked_desk(tmp_path / "desk", db_url, receiver.url, smtp_sink[0])
    yield desk
    desk.close()


def later(desk: Desk, seconds: float) -> Desk:
    at = desk.clock() + timedelta(seconds=seconds)
    return replace(desk, clock=lambda: at)


def deliver(desk: Desk) -> int:
    async def once() -> int:
        async with aiohttp.ClientSession() as client:
            return await deliver_pass(desk, client)
    return asyncio.run(once())


def queued(desk: Desk) -> list[tuple[str, str]]:
    with desk.sessions() as session:
        return [(d.event, d.state) for d in session.execute(
            select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars()]


def test_signed_ordered_retried_deliveries(desk: Desk, receiver: Receiver) -> None:
    ref = opened(desk, "01-printer")
    assert queued(desk) == [("ticket.created", "queued"), ("message.received", "queued")]
    receiver.script = [503]
    assert deliver(desk) == 0  # the first fails; the second waits behind it
    assert [p["event"] for p in receiver.posts] == ["ticket.created"]
    assert deliver(desk) == 0 and len(receiver.posts) == 1  # not due before the backoff
    # an agent's status change through the API joins the queue, marked as coming from it
    secret = token(desk)
    with serving(desk) as url:
        assert call(f"{url}/api/v1/tickets/{ref}/status", secret, {"status": "pending"})[0] == 200
    # the daemon's worker, a backoff later, sends the rest in order
    holder = DeskHolder(later(desk, 61))
    stop = asyncio.Event()

    async def run_worker() -> None:
        task = asyncio.create_task(webhook_worker(holder, stop))
        await asyncio.to_thread(receiver.wait_for, 4)
        stop.set()
        await task
    asyncio.run(run_worker())
    events = [p["event"] for p in receiver.posts]
    assert events == ["ticket.created", "ticket.created", "message.received",
                      "ticket.status_changed"]
    assert all(p["signed"] for p in receiver.posts)
    assert receiver.posts[0]["body"] == receiver.posts[1]["body"]  # a retry is the same event
    assert receiver.posts[0]["delivery"] == receiver.posts[1]["json"]["id"]
    created, changed = receiver.posts[1]["json"], receiver.posts[3]["json"]
    assert created["ticket"]["ref"] == ref and created["type"] == "ticket.created"
    assert changed["actor"] == "ana@example.com" and changed["data"]["via"] == "api"
    assert changed["data"]["to"] == "pending"
    assert [s for _e, s in queued(desk)] == ["delivered"] * 3
    # the relay takes the acknowledgement: message.sent, in the same transaction
    assert flush_once(desk.sessions, desk.config.relay).sent >= 1
    assert deliver(desk) >= 1
    sent = receiver.posts[4]["json"]
    assert sent["type"] == "message.sent" and sent["ticket"]["ref"] == ref
    assert sent["data"]["kind"].startswith("ack") and receiver.posts[4]["signed"]
    nothing_queued_on_rollback(desk)


def nothing_queued_on_rollback(desk: Desk) -> None:
    """A change that rolls back takes its queued deliveries with it."""
    ref = opened(desk, "02-vpn")
    before = len(queued(desk))
    with pytest.raises(RuntimeError), transaction(desk.sessions) as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        log_event(session, ticket.id, "someone", "status", {"from": "new", "to": "open"})
        unit.write_events(session)  # what the commit does first: the event and its delivery
        assert session.execute(select(func.count()).select_from(WebhookDelivery)
                               ).scalar() == before + 1
        raise RuntimeError("the change fails")
    assert len(queued(desk)) == before


def test_failing_hook_pauses_and_resumes(desk: Desk, receiver: Receiver,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    def cli(*argv: str) -> Any:
        with pytest.raises(SystemExit) as exit_:
            main(["--config", str(desk.config.path), "webhooks", *argv])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        return json.loads(out) if "--json" in argv else out

    opened(desk, "03-invoice")
    receiver.always = 500
    deliver(desk)
    deliver(later(desk, 61))  # the second failure in a row pauses the hook
    hook = gather(desk)["webhooks"][0]
    assert hook["paused_at"] and hook["failures"] == 2 and "500" in hook["last_error"]
    print_webhooks([hook])
    assert "webhook crm: 2 queued, PAUSED since" in capsys.readouterr().out
    deliver(later(desk, 3600))
    assert len(receiver.posts) == 2  # paused: nothing more is tried
    assert "PAUSED" in cli("list")
    receiver.always = None
    assert "2 deliveries due now" in cli("retry", "--hook", "crm")
    assert deliver(desk) == 2
    assert [p["event"] for p in receiver.posts[2:]] == ["ticket.created", "message.received"]
    shown = cli("deliveries", "--json")
    assert [d["state"] for d in shown] == ["delivered", "delivered"]
    cli("retry", str(shown[-1]["id"]))  # a delivered one is sent again
    assert deliver(desk) == 1 and receiver.posts[-1]["json"]["id"] == shown[-1]["event_id"]
    assert not gather(desk)["webhooks"][0]["paused_at"]
