"""Real delivery: maildesk's outbox -> aiosmtplib -> an aiosmtpd sink on loopback."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from maildesk.config.model import DeskConfig, OutboxConfig, RelayConfig
from maildesk.mail.loops import LoopLimits
from maildesk.outbox.compose import Thread, compose_template
from maildesk.outbox.context import AckContext
from maildesk.outbox.counts import recent_counts, suppress
from maildesk.outbox.queue import enqueue
from maildesk.outbox.send import claim, flush_once, renew, run_sender
from maildesk.outbox.templates import TemplateStore
from maildesk.store.models import Contact, Event, Outbox, Ticket
from maildesk.types import Address
from tests.conftest import SinkRecorder as Recorder

ROOT = Path(__file__).resolve().parents[2]
DESK = DeskConfig(name="Acme Support", addresses=("help@acme.test",), timezone="Europe/Madrid")
FAST = OutboxConfig(burst_attempts=1, burst_wait=0.05, backoff=60, backoff_max=3600)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    def __init__(self, port: int, recorder: Recorder) -> None:
        self.controller = Controller(recorder, hostname="127.0.0.1", port=port)
        self.recorder = recorder

    def __enter__(self) -> Recorder:
        self.controller.start()
        return self.recorder

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the shared `engine` fixture: every test runs on SQLite and PostgreSQL."""
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def templates() -> TemplateStore:
    store = TemplateStore(ROOT / "templates", "en",
                          {"desk_name": DESK.name, "desk_address": DESK.address})
    assert store.load() == []
    return store


def make_ticket(sessions: sessionmaker[Session]) -> int:
    with sessions() as session, session.begin():
        contact = Contact(email="maria@example.com", name="María Pérez")
        session.add(contact)
        session.flush()
        ticket = Ticket(number=1042, ref="MD-1042", customer_id=contact.id,
                        subject="La impresora no imprime")
        session.add(ticket)
        session.flush()
        return ticket.id


def queue_ack(sessions: sessionmaker[Session], templates: TemplateStore, ticket_id: int | None,
              lang: str = "es") -> str:
    context = AckContext("MD-1042", "La impresora no imprime", "María",
                         "Sale el error E-13.", ("foto.jpg",), "en un plazo de 4 horas laborables")
    now = datetime.now(UTC)
    outgoing = compose_template(
        templates, "ack", lang, context, desk=DESK, ticket_ref="MD-1042",
        to=[Address("maria@example.com", "María Pérez")], now=now, ticket_id=ticket_id,
        thread=Thread(in_reply_to="<CAF-original@mail.gmail.com>",
                      references=("<CAF-original@mail.gmail.com>",)))
    with sessions() as session, session.begin():
        enqueue(session, outgoing, DESK.address, now)
    return outgoing.message_id


def relay(port: int, **kwargs: Any) -> RelayConfig:
    return RelayConfig(host="127.0.0.1", port=port, timeout=5, **kwargs)


def rows(sessions: sessionmaker[Session]) -> list[Outbox]:
    with sessions() as session:
        return list(session.scalars(select(Outbox)))


def parsed(envelope: Any) -> EmailMessage:
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("lang", ["es", "en"])
def test_headers_and_parts_as_received(sessions: sessionmaker[Session],
                                       templates: TemplateStore, lang: str) -> None:
    ticket_id = make_ticket(sessions)
    message_id = queue_ack(sessions, templates, ticket_id, lang)
    port = free_port()
    with Sink(port, Recorder()) as sink:
        result = flush_once(sessions, relay(port), datetime.now(UTC), FAST)
    assert result.sent == 1 and len(sink.received) == 1
    envelope = sink.received[0]
    assert envelope.mail_from == "help@acme.test"
    assert envelope.rcpt_tos == ["maria@example.com"]
    raw = envelope.original_content
    assert b"\r\n" in raw
    msg = parsed(envelope)
    assert msg["Message-ID"] == f"<{message_id}>"
    assert message_id.endswith("@acme.test")
    assert msg["In-Reply-To"] == "<CAF-original@mail.gmail.com>"
    assert msg["References"] == "<CAF-original@mail.gmail.com>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Reply-To"].addresses[0].addr_spec == "help@acme.test"
    assert msg["X-Maildesk-Ticket"] == "MD-1042" and msg["X-Maildesk-Kind"] == "ack"
    assert len(base64.b64decode(msg["Thread-Index"])) >= 22
    assert msg["To"].addresses[0].display_name == "María Pérez"
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]  # non-ASCII name/subject encoded
    assert "[MD-1042]" in msg["Subject"] and "La impresora no imprime" in msg["Subject"]
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    expected = "Hemos recibido su solicitud" if lang == "es" else "We have received your request"
    assert expected in text and expected in html
    assert "MD-1042" in text and "Sale el error E-13." in text
    [row] = rows(sessions)
    assert row.state == "sent" and row.sent_at is not None


def test_relay_down_then_up_delivers_exactly_once(sessions: sessionmaker[Session],
                                                  templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    queue_ack(sessions, templates, ticket_id)
    port = free_port()
    t0 = datetime.now(UTC)
    first = flush_once(sessions, relay(port), t0, FAST)  # connection refused
    assert first.retrying == 1
    [row] = rows(sessions)
    assert row.state == "queued" and row.next_attempt_at > t0 and row.last_error
    assert flush_once(sessions, relay(port), t0 + timedelta(seconds=1), FAST).claimed == 0
    with Sink(port, Recorder()) as sink:
        later = t0 + timedelta(seconds=FAST.backoff + 1)
        assert flush_once(sessions, relay(port), later, FAST).sent == 1
        assert flush_once(sessions, relay(port), later + timedelta(hours=1), FAST).claimed == 0
    assert len(sink.received) == 1
    [row] = rows(sessions)
    assert row.state == "sent" and row.attempts == 2


def test_relay_starting_during_a_burst_is_retried_in_process(
        sessions: sessionmaker[Session], templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    queue_ack(sessions, templates, ticket_id)
    port = free_port()
    sink = Sink(port, Recorder())
    starter = threading.Timer(0.3, sink.controller.start)
    starter.start()
    try:
        burst = OutboxConfig(burst_attempts=6, burst_wait=0.2)
        result = flush_once(sessions, relay(port), datetime.now(UTC), burst)
    finally:
        starter.join()
        sink.controller.stop()
    assert result.sent == 1 and len(sink.recorder.received) == 1


def test_451_then_250_is_delivered_once(sessions: sessionmaker[Session],
                                        templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    queue_ack(sessions, templates, ticket_id)
    port = free_port()
    burst = OutboxConfig(burst_attempts=3, burst_wait=0.05)
    with Sink(port, Recorder(replies=["451 4.3.0 Try again later"])) as sink:
        result = flush_once(sessions, relay(port), datetime.now(UTC), burst)
    assert result.sent == 1 and len(sink.received) == 1
    [row] = rows(sessions)
    assert row.state == "sent"


def test_550_fails_with_an_event_on_the_ticket(sessions: sessionmaker[Session],
                                               templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    message_id = queue_ack(sessions, templates, ticket_id)
    port = free_port()
    with Sink(port, Recorder(replies=["550 5.7.1 Message rejected as spam"])) as sink:
        result = flush_once(sessions, relay(port), datetime.now(UTC), FAST)
        assert flush_once(sessions, relay(port), datetime.now(UTC) + timedelta(days=1),
                          FAST).claimed == 0
    assert result.failed == 1 and sink.received == []
    [row] = rows(sessions)
    assert row.state == "failed" and "550" in (row.last_error or "")
    with sessions() as session:
        [event] = session.scalars(select(Event).where(Event.ticket_id == ticket_id))
    assert event.action == "delivery-failed"
    assert event.detail["code"] == 550 and "rejected as spam" in event.detail["text"]
    assert event.detail["message_id"] == message_id


def test_gives_up_after_retry_for(sessions: sessionmaker[Session],
                                  templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    queue_ack(sessions, templates, ticket_id)
    port = free_port()
    late = datetime.now(UTC) + timedelta(hours=2)
    result = flush_once(sessions, relay(port, retry_for=3600), late, FAST)
    assert result.failed == 1
    with sessions() as session:
        [event] = session.scalars(select(Event).where(Event.ticket_id == ticket_id))
    assert event.action == "delivery-failed" and "gave up" in event.reason


def test_a_claimed_row_is_not_claimed_again(sessions: sessionmaker[Session],
                                            templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    queue_ack(sessions, templates, ticket_id)
    now = datetime.now(UTC)
    assert len(claim(sessions, now, FAST)) == 1
    assert claim(sessions, now, FAST) == []  # leased: another sender leaves it alone
    assert len(claim(sessions, now + timedelta(seconds=FAST.lease + 1), FAST)) == 1


def test_rows_of_a_killed_sender_go_out_within_a_minute(sessions: sessionmaker[Session],
                                                      templates: TemplateStore) -> None:
    """kill -9 mid-pass: the rows stay claimed; a restarted sender takes them over soon."""
    ticket_id = make_ticket(sessions)
    for _ in range(3):
        queue_ack(sessions, templates, ticket_id)
    now = datetime.now(UTC)
    assert len(claim(sessions, now, FAST)) == 3  # the sender that then dies
    port = free_port()
    with Sink(port, Recorder()) as sink:
        assert flush_once(sessions, relay(port), now + timedelta(seconds=20), FAST).sent == 0
        result = flush_once(sessions, relay(port), now + timedelta(seconds=60), FAST)
    assert result.sent == 3 and len(sink.received) == 3


def test_a_sender_renews_only_the_leases_it_still_holds(sessions: sessionmaker[Session],
                                                       templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    queue_ack(sessions, templates, ticket_id)
    queue_ack(sessions, templates, None)  # another conversation: not held behind the first
    now = datetime.now(UTC)
    first, second = claim(sessions, now, FAST)
    ends = now + timedelta(seconds=FAST.lease)
    later = now + timedelta(seconds=FAST.lease * 2 / 3)
    assert renew(sessions, {first.id: ends}, later, FAST) == {
        first.id: later + timedelta(seconds=FAST.lease)}
    # The second lease ran out and another sender took the row: it is that sender's now.
    taken = now + timedelta(seconds=FAST.lease + 1)
    assert [p.id for p in claim(sessions, taken, FAST)] == [second.id]
    assert renew(sessions, {second.id: ends}, taken, FAST) == {}
    assert claim(sessions, later + timedelta(seconds=FAST.lease - 1), FAST) == []


def test_rows_locked_by_another_sender_are_skipped(engine: Engine,
                                                   sessions: sessionmaker[Session],
                                                   templates: TemplateStore) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite relies on the conditional UPDATE")
    ticket_id = make_ticket(sessions)
    queue_ack(sessions, templates, ticket_id)
    queue_ack(sessions, templates, ticket_id)
    now = datetime.now(UTC)
    with sessions() as other, other.begin():
        locked = other.scalars(select(Outbox).order_by(Outbox.id).limit(1)
                               .with_for_update()).one()
        parcels = claim(sessions, now, FAST)  # must not wait for `other`
        assert [p.id for p in parcels] != [] and locked.id not in [p.id for p in parcels]


def test_recent_counts_and_suppression(sessions: sessionmaker[Session],
                                       templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    for _ in range(3):
        queue_ack(sessions, templates, ticket_id)
    limits = LoopLimits(desk_addresses=DESK.addresses)
    now = datetime.now(UTC) + timedelta(seconds=1)
    with sessions() as session, session.begin():
        counts = recent_counts(session, "Maria@Example.com", ticket_id, now, limits)
        assert (counts.to_recipient, counts.to_ticket, counts.total) == (3, 3, 3)
        assert counts.suppressed_until is None
        other = recent_counts(session, "other@example.com", None, now, limits)
        assert (other.to_recipient, other.to_domain, other.first_contacts) == (0, 3, 1)
        tagged = recent_counts(session, "maria+orders@example.com", None, now, limits)
        assert tagged.to_recipient == 3  # +tags fold into the base address
        later = recent_counts(session, "maria@example.com", ticket_id, now + timedelta(hours=2),
                              limits)
        assert (later.to_recipient, later.total) == (0, 0)
        suppress(session, "maria@example.com", "550 5.1.1 user unknown", now, limits)
    with sessions() as session:
        counts = recent_counts(session, "maria@example.com", ticket_id, now, limits)
        assert counts.suppressed_until == now + limits.suppress_for


def test_run_sender_wakes_on_poke_and_stops(sessions: sessionmaker[Session],
                                            templates: TemplateStore) -> None:
    ticket_id = make_ticket(sessions)
    port = free_port()
    slow = OutboxConfig(interval=60, burst_attempts=1)  # only the poke can wake it in time

    async def scenario(sink: Recorder) -> None:
        stop, poke = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_sender(stop, sessions, relay(port), slow, poke=poke))
        await asyncio.sleep(0.2)  # the first pass finds nothing and goes to sleep
        await asyncio.to_thread(queue_ack, sessions, templates, ticket_id)
        poke.set()
        for _ in range(100):
            if sink.received:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    with Sink(port, Recorder()) as sink:
        asyncio.run(scenario(sink))
    assert len(sink.received) == 1
    [row] = rows(sessions)
    assert row.state == "sent"
