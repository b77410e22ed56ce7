"""Intake and processing in two phases: the order of a conversation, and group commits.

The listener here is the daemon's: its Receiver only stores (a group commit) and wakes
the processing workers (runtime/processing.py), which run on the same loop.
"""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import eml
from daemon_helpers import DEADLINE, LoopThread, mail, make_desk, wait_until
from sqlalchemy import create_engine, select, text

from maildesk.config.model import load_config
from maildesk.intake import smtp
from maildesk.intake.receiver import Receiver
from maildesk.pipeline import flow
from maildesk.runtime.desk import Desk, DeskHolder, open_desk
from maildesk.runtime.metrics import Metrics
from maildesk.runtime.processing import Processing
from maildesk.store.claim import claim_next
from maildesk.store.db import make_engine, transaction
from maildesk.store.models import Message, RawMessage
from maildesk.types import RawMail, RawState, Source

PARENT, REPLY = "order/01-parent.eml", "order/02-reply.eml"
PARENT_ID = b"order-parent@"  # in the parent's Message-ID, which the reply answers
POISON = "poison@customer.example"


@dataclass
class Node:
    """One daemon's intake and processing, as `maildesk run` wires them, on a loop thread."""

    desk: Desk
    receiver: Receiver
    listener: smtp.Listener
    stop: asyncio.Event
    workers: list[Future[None]]

    def send(self, data: bytes, sender: str = "c@customer.example") -> None:
        with smtplib.SMTP("127.0.0.1", self.listener.port, timeout=DEADLINE) as client:
            client.sendmail(sender, ["support@acme.example"], data)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    loop, started = LoopThread(), []

    def start(url: str, name: str = "desk", workers: int = 1, process: bool = True) -> Node:
        path = make_desk(tmp_path / name, url, '[smtp]\nlisten = "127.0.0.1:0"\n')
        desk = open_desk(load_config(path))
        holder, metrics = DeskHolder(desk), Metrics()
        processing = Processing(holder, metrics)
        receiver = Receiver(holder, metrics, stored=processing.wake)
        processing.attach(receiver)
        listener = loop.run(smtp.listen(desk.config.smtp, receiver))
        stop = loop.run(_event())
        futures = [asyncio.run_coroutine_threadsafe(processing.worker(holder, stop), loop.loop)
                   for _ in range(workers if process else 0)]
        node = Node(desk, receiver, listener, stop, futures)
        started.append(node)
        return node

    yield start
    for node in started:
        loop.loop.call_soon_threadsafe(node.stop.set)
        for future in node.workers:
            future.result(DEADLINE)
        loop.run(_shut(node.listener))
        node.desk.close()
    loop.close()


async def _event() -> asyncio.Event:
    return asyncio.Event()


async def _shut(listener: smtp.Listener) -> None:
    listener.stop_accepting()
    await listener.close_sessions()


def _states(desk: Desk) -> dict[str | None, str]:
    with desk.sessions() as session:
        return dict(session.execute(select(RawMessage.message_id, RawMessage.state)).all())


def _tickets_by_message(desk: Desk) -> dict[str, int]:
    with desk.sessions() as session:
        return dict(session.execute(select(Message.message_id, Message.ticket_id)
                                    .where(Message.direction == "in")).all())


def _nothing_waiting(desk: Desk) -> bool:
    return RawState.RECEIVED not in _states(desk).values()


def _held_parent(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """A first stage that keeps the parent mail in flight until the test releases it."""
    entered, release = threading.Event(), threading.Event()

    def hold(desk, session, item):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
        if PARENT_ID in item.raw.data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]:
            entered.set()
            release.wait(DEADLINE)
        return item

    monkeypatch.setattr(flow, "STAGES", [hold, *flow.STAGES])
    return entered, release


def test_a_waiting_parent_holds_its_reply_back(desk: Desk) -> None:
    """Claims take the oldest mail, never a reply while the mail it answers waits."""
    stored = flow.store(desk, [RawMail(data=eml(PARENT), source=Source.CLI),
                               RawMail(data=eml(REPLY), source=Source.CLI),
                               RawMail(data=mail(1, "u"), source=Source.CLI)])
    parent, reply, other = (s.raw_id for s in stored)
    with transaction(desk.sessions) as session:
        assert claim_next(session, {reply}) is None
        assert claim_next(session, {reply, other}) == other
        assert claim_next(session) == parent
    assert [p.raw_id for p in flow.drain(desk, {parent, reply, other})] == [parent, reply, other]
    tickets = _tickets_by_message(desk)
    assert tickets[_id(REPLY)] == tickets[_id(PARENT)] != tickets["u-1@customer.example"]


def _id(name: str) -> str:
    return eml(name).split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_parent_in_flight_holds_its_reply_back_across_sessions(desk: Desk) -> None:
    """PostgreSQL: a row in flight is skipped, and so is the reply to it; other mail goes."""
    stored = flow.store(desk, [RawMail(data=eml(PARENT), source=Source.CLI),
                               RawMail(data=eml(REPLY), source=Source.CLI),
                               RawMail(data=mail(1, "u"), source=Source.CLI)])
    parent, reply, other = (s.raw_id for s in stored)
    with transaction(desk.sessions) as first:
        assert claim_next(first) == parent
        with transaction(desk.sessions) as second:
            assert claim_next(second) == other
        first.get(RawMessage, parent).state = RawState.PROCESSED  # type: ignore[union-attr]
    with transaction(desk.sessions) as third:
        assert claim_next(third) == reply


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("daemons", [1, 2])
def test_reply_arriving_while_its_parent_is_processed_waits_for_it(
        db_url: str, daemons: int, nodes: Callable[..., Node],
        monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release = _held_parent(monkeypatch)
    first = nodes(db_url, "a", workers=3 - daemons)
    second = nodes(db_url, "b") if daemons == 2 else first
    first.send(eml(PARENT))  # answered although its processing cannot finish
    assert entered.wait(DEADLINE)
    second.send(eml(REPLY), "tomas.berg@lakeside.example")
    second.send(mail(1, "u"))  # a free worker takes this one, but not the reply
    assert wait_until(lambda: _states(first.desk).get("u-1@customer.example")
                      == RawState.PROCESSED)
    assert _states(first.desk)[_id(REPLY)] == RawState.RECEIVED
    release.set()
    assert wait_until(lambda: _nothing_waiting(first.desk))
    tickets = _tickets_by_message(first.desk)
    assert tickets[_id(REPLY)] == tickets[_id(PARENT)] != tickets["u-1@customer.example"]


def test_250_comes_before_processing(db_url: str, nodes: Callable[..., Node]) -> None:
    """With no worker running, the listener still answers 250: the mail is stored."""
    node = nodes(db_url, process=False)
    node.send(mail(1))
    assert _states(node.desk) == {"t-1@customer.example": RawState.RECEIVED}


class _Blocker:
    """Holds the database's write lock (SQLite) or a lock that stops inserts (PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> _Blocker:
        if self.url.startswith("sqlite"):
            self.db = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self.db.execute("BEGIN IMMEDIATE")
        else:
            self.engine = create_engine(self.url.replace("postgresql://",
                                                         "postgresql+psycopg://"))
            self.conn = self.engine.connect()
            self.conn.execute(text("LOCK TABLE raw_messages IN SHARE MODE"))
        return self

    def release(self) -> None:
        if self.url.startswith("sqlite"):
            self.db.execute("ROLLBACK")
            self.db.close()
        else:
            self.conn.rollback()
            self.conn.close()
            self.engine.dispose()

    def __exit__(self, *exc: object) -> None:
        pass


def _poison(url: str) -> Callable[[], None]:
    """A mail from POISON makes its transaction fail: at COMMIT on PostgreSQL (a deferred
    constraint trigger), at its INSERT on SQLite. Returns the undo."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if url.startswith("sqlite"):
            conn.execute(text(f"CREATE TRIGGER md_poison BEFORE INSERT ON raw_messages "
                              f"WHEN NEW.envelope_from = '{POISON}' "
                              f"BEGIN SELECT RAISE(ABORT, 'poisoned'); END"))
        else:
            conn.execute(text(f"""CREATE FUNCTION md_poison() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN IF NEW.envelope_from = '{POISON}' THEN
                RAISE EXCEPTION 'poisoned'; END IF; RETURN NULL; END $$"""))
            conn.execute(text("CREATE CONSTRAINT TRIGGER md_poison AFTER INSERT ON raw_messages "
                              "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                              "EXECUTE FUNCTION md_poison()"))

    def undo() -> None:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS md_poison" if url.startswith("sqlite")
                              else "DROP TRIGGER IF EXISTS md_poison ON raw_messages"))
            if not url.startswith("sqlite"):
                conn.execute(text("DROP FUNCTION IF EXISTS md_poison()"))
        engine.dispose()

    return undo


def _send_in_thread(node: Node, data: bytes, sender: str,
                    replies: dict[str, tuple[int, bytes]]) -> threading.Thread:
    def send() -> None:
        try:
            node.send(data, sender)
            replies[sender] = (250, b"")
        except smtplib.SMTPDataError as exc:
            replies[sender] = (exc.smtp_code, exc.smtp_error)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_a_failed_group_commit_answers_451_to_every_mail_and_stores_none(
        db_url: str, nodes: Callable[..., Node]) -> None:
    node = nodes(db_url, process=False)
    undo = _poison(db_url)
    replies: dict[str, tuple[int, bytes]] = {}
    try:
        with _Blocker(db_url) as blocker:
            alone = _send_in_thread(node, mail(0, "g"), "first@customer.example", replies)
            assert wait_until(lambda: node.receiver.in_flight == 1 and not node.receiver.group.pending)
            senders = ["a@customer.example", "b@customer.example", POISON, "c@customer.example"]
            group = [_send_in_thread(node, mail(n, "g"), sender, replies)
                     for n, sender in enumerate(senders, 1)]
            assert wait_until(lambda: node.receiver.group.pending == len(senders))
            blocker.release()  # the first mail commits alone; the four then commit together
            for thread in [alone, *group]:
                thread.join(DEADLINE)
    finally:
        undo()
    assert replies.pop("first@customer.example") == (250, b"")
    assert {sender: (code, reply[:5]) for sender, (code, reply) in replies.items()} == {
        sender: (451, b"4.3.0") for sender in senders}
    assert list(_states(node.desk)) == ["g-0@customer.example"]
