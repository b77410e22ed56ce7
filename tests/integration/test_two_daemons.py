"""Two `maildesk run` on one PostgreSQL database, and a kill -9 between intake and processing.

Each daemon has its own storage directory and port; the mail of a conversation is split
between them, a reply arriving at one daemon right after its parent arrived at the
other. Nothing may be lost or doubled, every reply must join its parent's ticket, and
every acknowledgement must leave once.
"""

from __future__ import annotations

import smtplib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import DEADLINE, DaemonProcess, make_desk, wait_until
from dovecot import free_port
from sqlalchemy import select, text

from maildesk.store.db import make_engine
from maildesk.store.models import Message, Outbox, RawMessage
from maildesk.types import RawState

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
CONVERSATIONS = 8


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()


def _desk(root: Path, url: str, port: int, relay: int) -> Path:
    return make_desk(root, url, f'[smtp]\nlisten = "127.0.0.1:{port}"\n'
                                f'[relay]\nhost = "127.0.0.1"\nport = {relay}\n'
                                '[outbox]\ninterval = 0.5\n'
                                '[daemon]\nworkers = 2\npoll_interval = 0.5\n')


def _original(n: int) -> bytes:
    # One domain per customer: the per-domain loop limit must not hold an ack back.
    return (f"From: Customer {n} <c{n}@cust{n}.example>\r\nTo: support@acme.example\r\n"
            f"Subject: scanner {n} jams\r\nMessage-ID: <o-{n}@cust{n}.example>\r\n"
            f"Date: Wed, 2 Dec 2026 10:00:00 +0000\r\n\r\nScanner {n} jams on every page.\r\n"
            ).encode()


def _reply(n: int) -> bytes:
    return (f"From: Customer {n} <c{n}@cust{n}.example>\r\nTo: support@acme.example\r\n"
            f"Subject: Re: scanner {n} jams\r\nMessage-ID: <r-{n}@cust{n}.example>\r\n"
            f"In-Reply-To: <o-{n}@cust{n}.example>\r\nReferences: <o-{n}@cust{n}.example>\r\n"
            f"Date: Wed, 2 Dec 2026 10:00:05 +0000\r\n\r\nAlso on double-sided pages.\r\n"
            ).encode()


def _send(port: int, data: bytes, sender: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=DEADLINE) as client:
        client.sendmail(sender, ["support@acme.example"], data)


def _rows(url: str) -> tuple[dict[str, str], dict[str, int], Counter[str]]:
    """(raw state by Message-ID, ticket by incoming Message-ID, outbox state counts)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            states = dict(conn.execute(select(RawMessage.message_id, RawMessage.state)).all())
            tickets = dict(conn.execute(select(Message.message_id, Message.ticket_id)
                                        .where(Message.direction == "in")).all())
            outbox = Counter(conn.execute(select(Outbox.state)).scalars())
        return states, tickets, outbox
    finally:
        engine.dispose()


def _settled(url: str, mails: int, acks: int, sink) -> bool:  # noqa: ANN001
    """Every mail processed and every acknowledgement delivered (read from the database)."""
    states, _tickets, outbox = _rows(url)
    return (len(states) == mails and RawState.RECEIVED not in states.values()
            and outbox.get("sent", 0) >= acks and len(sink.received) >= acks)


def test_two_daemons_split_conversations_lose_and_double_nothing(
        tmp_path: Path, db_url: str, daemons: list[DaemonProcess], smtp_sink) -> None:  # noqa: ANN001
    relay, sink = smtp_sink
    ports = [free_port(), free_port()]
    configs = [_desk(tmp_path / name, db_url, port, relay)
               for name, port in zip("ab", ports, strict=True)]
    for config in configs:
        daemons.append(DaemonProcess(config))
        daemons[-1].start()
    for n in range(CONVERSATIONS):  # the reply goes to the other daemon, right away
        _send(ports[n % 2], _original(n), f"c{n}@cust{n}.example")
        _send(ports[(n + 1) % 2], _reply(n), f"c{n}@cust{n}.example")
    assert wait_until(lambda: _settled(db_url, 2 * CONVERSATIONS, CONVERSATIONS, sink))
    states, tickets, outbox = _rows(db_url)
    assert len(states) == 2 * CONVERSATIONS
    assert set(states.values()) == {RawState.PROCESSED}, states
    for n in range(CONVERSATIONS):
        assert tickets[f"r-{n}@cust{n}.example"] == tickets[f"o-{n}@cust{n}.example"]
    assert len(set(tickets.values())) == CONVERSATIONS
    assert outbox == {"sent": CONVERSATIONS}, outbox
    acks = Counter(rcpt for envelope in sink.received for rcpt in envelope.rcpt_tos)
    assert acks == {f"c{n}@cust{n}.example": 1 for n in range(CONVERSATIONS)}
    assert all("received source=smtp" in d.log.read_text() for d in daemons)


def test_kill_9_between_intake_commit_and_processing_processes_once(
        tmp_path: Path, db_url: str, daemons: list[DaemonProcess], smtp_sink) -> None:  # noqa: ANN001
    relay, sink = smtp_sink
    port = free_port()
    config = _desk(tmp_path / "desk", db_url, port, relay)
    first = DaemonProcess(config)
    daemons.append(first)
    first.start()
    blocker = make_engine(db_url)
    conn = blocker.connect()
    try:  # processing cannot open a ticket while this is held; storing is not affected
        conn.execute(text("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"))
        _send(port, _original(1), "c1@cust1.example")  # 250: the raw bytes are committed
        assert _rows(db_url)[0] == {"o-1@cust1.example": RawState.RECEIVED}
        first.kill()  # SIGKILL, with the mail stored and its processing not committed
    finally:
        conn.rollback()
        conn.close()
        blocker.dispose()
    second = DaemonProcess(config)
    daemons.append(second)
    second.start()
    assert wait_until(lambda: _settled(db_url, 1, 1, sink))
    states, tickets, outbox = _rows(db_url)
    assert states == {"o-1@cust1.example": RawState.PROCESSED}
    assert len(tickets) == 1 and outbox == {"sent": 1}
    assert [e.rcpt_tos for e in sink.received] == [["c1@cust1.example"]]
