"""The timer pass (`maildesk tick`) on real tickets, on SQLite and PostgreSQL.

Tickets are opened by mail through the pipeline at chosen instants (desk.clock), then
timers run at increasing `now`: the calendar's edge cases (Friday 17:55, a holiday, the
end of summer time), pause and resume, escalation through every tier, reminders and
auto-close, and idempotency, in-process and with real `maildesk tick` processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from maildesk.config.model import load_config
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk, open_desk
from maildesk.sla.scheduler import TickResult, tick
from maildesk.store.models import Event, Outbox, Ticket, TimerMark
from maildesk.tickets import lifecycle
from maildesk.types import RawMail, Source, TicketStatus
from tests.conftest import REPO, write_desk

MADRID = ZoneInfo("Europe/Madrid")
CALENDAR = """\
timezone: Europe/Madrid
hours:
  weekdays: "09:00-18:00"
holidays:
  - {date: 2025-12-08, name: Inmaculada}
"""


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID).astimezone(UTC)


def make_desk(root: Path, url: str, extra: str = "") -> Desk:
    """The shipped rules with a plain 09:00-18:00 calendar, easy to reason about."""
    path = write_desk(root, url, extra)
    (root / "rules" / "calendar.yaml").write_text(CALENDAR)
    return open_desk(load_config(path))


@pytest.fixture
def sla_desk(tmp_path: Path, db_url: str) -> Iterator[Desk]:
    desk = make_desk(tmp_path / "desk", db_url)
    yield desk
    desk.close()


def mail(subject: str, body: str = "It does not work.", *, sender: str = "maria@cliente.example",
         in_reply_to: str | None = None, message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"María López <{sender}>"
    msg["To"] = "support@acme.example"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="cliente.example")
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes()


def receive(desk: Desk, at: datetime, data: bytes) -> str:
    """Ingest `data` as if it arrived at `at`; the ticket ref it went to."""
    outcome = accept(replace(desk, clock=lambda: at), RawMail(data, Source.PIPE)).outcome
    assert outcome is not None and outcome.ref, outcome
    return outcome.ref


def open_invoice_ticket(desk: Desk, at: datetime, message_id: str | None = None) -> str:
    """A ticket the shipped rules route to team l1 (tier 1), priority P3 (4h / 3d)."""
    return receive(desk, at, mail("Invoice 2025-113 is wrong", message_id=message_id))


def ticket(desk: Desk, ref: str) -> Ticket:
    with desk.sessions() as session:
        return session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()


def kinds(result: TickResult) -> list[str]:
    return [a.kind for a in result.actions]


def events(desk: Desk, ref: str, action: str) -> list[Event]:
    with desk.sessions() as session:
        return list(session.execute(select(Event).join(Ticket, Ticket.id == Event.ticket_id)
                                    .where(Ticket.ref == ref, Event.action == action)
                                    .order_by(Event.id)).scalars())


def outbox(desk: Desk, kind: str) -> list[Outbox]:
    with desk.sessions() as session:
        return list(session.execute(select(Outbox).where(Outbox.kind == kind)
                                    .order_by(Outbox.id)).scalars())


def set_status(desk: Desk, ref: str, status: TicketStatus, at: datetime) -> None:
    with desk.sessions.begin() as session:
        row = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        lifecycle.change_status(desk, session, row, status, actor="ana@example.com", now=at)


def test_friday_1755_warns_and_breaches_on_monday(sla_desk: Desk) -> None:
    ref = open_invoice_ticket(sla_desk, madrid(2025, 11, 21, 17, 55))
    assert ticket(sla_desk, ref).response_due_at == madrid(2025, 11, 24, 12, 55)
    assert kinds(tick(sla_desk, madrid(2025, 11, 22, 12, 0))) == []  # Saturday
    assert kinds(tick(sla_desk, madrid(2025, 11, 24, 12, 8))) == ["warn-response"]
    [warning] = outbox(sla_desk, "sla_warning")
    assert warning.recipients == ["ana@example.com"]
    assert "12:55" in warning.data.decode()
    result = tick(sla_desk, madrid(2025, 11, 24, 12, 55))
    assert kinds(result) == ["breach-response", "escalate"]
    row = ticket(sla_desk, ref)
    assert row.response_breached_at == madrid(2025, 11, 24, 12, 55)
    assert (row.tier, row.team, row.escalation_level) == (2, "l2", 1)
    assert [e.action for e in events(sla_desk, ref, "sla-breach")] == ["sla-breach"]


def test_holiday_is_skipped(sla_desk: Desk) -> None:
    ref = open_invoice_ticket(sla_desk, madrid(2025, 12, 5, 17, 0))  # Monday 8th is off
    assert ticket(sla_desk, ref).response_due_at == madrid(2025, 12, 9, 12, 0)
    assert "breach-response" not in kinds(tick(sla_desk, madrid(2025, 12, 8, 17, 0)))
    assert "breach-response" in kinds(tick(sla_desk, madrid(2025, 12, 9, 12, 0)))


def test_end_of_summer_time_keeps_office_hours(sla_desk: Desk) -> None:
    ref = open_invoice_ticket(sla_desk, madrid(2025, 10, 24, 17, 0))  # CEST, UTC+2
    due = ticket(sla_desk, ref).response_due_at
    assert due == datetime(2025, 10, 27, 11, 0, tzinfo=UTC)  # Monday 12:00 CET, UTC+1
    assert "breach-response" not in kinds(tick(sla_desk, datetime(2025, 10, 27, 10, 59,
                                                                  tzinfo=UTC)))
    assert "breach-response" in kinds(tick(sla_desk, due))


def test_pending_pauses_and_a_customer_reply_resumes(sla_desk: Desk) -> None:
    first = make_msgid(domain="cliente.example")
    ref = open_invoice_ticket(sla_desk, madrid(2025, 11, 24, 10, 0), first)
    assert ticket(sla_desk, ref).resolution_due_at == madrid(2025, 11, 27, 10, 0)
    set_status(sla_desk, ref, TicketStatus.PENDING, madrid(2025, 11, 25, 10, 0))
    assert "breach-resolution" not in kinds(tick(sla_desk, madrid(2025, 11, 26, 9, 59)))
    receive(sla_desk, madrid(2025, 11, 26, 10, 0),
            mail("Re: Invoice 2025-113 is wrong", "Here it is.", in_reply_to=first))
    row = ticket(sla_desk, ref)
    assert row.status == TicketStatus.OPEN
    assert row.resolution_due_at == madrid(2025, 11, 28, 10, 0)  # one business day later
    assert "breach-resolution" not in kinds(tick(sla_desk, madrid(2025, 11, 27, 10, 30)))
    assert "breach-resolution" in kinds(tick(sla_desk, madrid(2025, 11, 28, 10, 0)))


def test_two_pauses_give_the_due_time_recomputed_from_the_calendar(sla_desk: Desk) -> None:
    """Each resume once shifted the stored due time by that pause; the shifts (fractions
    of a second included) drifted from the total pause the ticket records."""
    first = make_msgid(domain="cliente.example")
    ref = open_invoice_ticket(sla_desk, madrid(2025, 11, 24, 10, 0), first)
    late = timedelta(milliseconds=600)
    set_status(sla_desk, ref, TicketStatus.PENDING, madrid(2025, 11, 24, 11, 0) + late)
    receive(sla_desk, madrid(2025, 11, 24, 12, 0),  # 3599.4 s paused, resumed by the customer
            mail("Re: Invoice 2025-113 is wrong", "Here it is.", in_reply_to=first))
    set_status(sla_desk, ref, TicketStatus.PENDING, madrid(2025, 11, 25, 17, 0) + late)
    set_status(sla_desk, ref, TicketStatus.OPEN, madrid(2025, 11, 26, 10, 0))  # 7199.4 s
    row = ticket(sla_desk, ref)
    assert row.paused_seconds == 3599 + 7199
    _, recomputed = sla_desk.sla.due_times(row.sla_policy, row.priority, row.created_at,
                                           timedelta(seconds=row.paused_seconds))
    assert row.resolution_due_at == recomputed == madrid(2025, 11, 27, 12, 59, 58)


def test_escalation_climbs_every_tier_then_only_notifies(sla_desk: Desk) -> None:
    ref = open_invoice_ticket(sla_desk, madrid(2025, 11, 24, 10, 0))
    assert kinds(tick(sla_desk, madrid(2025, 11, 24, 14, 0))) == ["breach-response",
                                                                    "escalate"]
    assert (ticket(sla_desk, ref).tier, ticket(sla_desk, ref).team) == (2, "l2")
    assert outbox(sla_desk, "escalation")[-1].recipients == ["bruno@example.com"]  # no lead
    assert kinds(tick(sla_desk, madrid(2025, 11, 24, 17, 59))) == []
    assert kinds(tick(sla_desk, madrid(2025, 11, 24, 18, 0))) == ["escalate"]
    row = ticket(sla_desk, ref)
    assert (row.tier, row.team, row.assignee, row.escalation_level) == (
        3, "l3", "carla@example.com", 2)
    assert outbox(sla_desk, "escalation")[-1].recipients == ["carla@example.com"]  # the lead
    assert kinds(tick(sla_desk, madrid(2025, 11, 25, 13, 0))) == ["remind-agent", "escalate"]
    assert (ticket(sla_desk, ref).tier, ticket(sla_desk, ref).escalation_level) == (3, 3)
    assert kinds(tick(sla_desk, madrid(2025, 12, 2, 13, 0))) == ["breach-resolution"]
    assert kinds(tick(sla_desk, madrid(2025, 12, 9, 13, 0))) == []
    details = [e.detail for e in events(sla_desk, ref, "escalated")]
    assert [(d["level"], d["tier"], d["to_team"]) for d in details] == [
        (1, 2, "l2"), (2, 3, "l3"), (3, 3, None)]


def test_pending_ticket_is_reminded_then_closed(sla_desk: Desk) -> None:
    ref = open_invoice_ticket(sla_desk, madrid(2025, 11, 24, 9, 30))
    set_status(sla_desk, ref, TicketStatus.PENDING, madrid(2025, 11, 24, 10, 0))
    assert kinds(tick(sla_desk, madrid(2025, 11, 27, 9, 59))) == []
    assert kinds(tick(sla_desk, madrid(2025, 11, 27, 10, 0))) == ["remind-customer"]
    [reminder] = outbox(sla_desk, "reminder")
    assert reminder.recipients == ["maria@cliente.example"]
    assert "Wednesday 3 December" in reminder.data.decode()
    assert kinds(tick(sla_desk, madrid(2025, 12, 3, 10, 0))) == ["auto-close"]
    row = ticket(sla_desk, ref)
    assert row.status == TicketStatus.CLOSED and row.closed_at == madrid(2025, 12, 3, 10, 0)
    assert len(outbox(sla_desk, "closure")) == 1
    assert [e.actor for e in events(sla_desk, ref, "auto-closed")] == ["sla"]
    assert kinds(tick(sla_desk, madrid(2025, 12, 30, 10, 0))) == []


def test_the_same_instant_twice_does_nothing_the_second_time(sla_desk: Desk) -> None:
    for hour in (10, 11, 12):
        open_invoice_ticket(sla_desk, madrid(2025, 11, 24, hour, 0))
    now = madrid(2025, 11, 26, 17, 0)
    first = tick(sla_desk, now)
    assert len(first.actions) >= 9 and first.checked == 3
    again = tick(sla_desk, now)
    assert again.actions == () and again.checked == 3
    with sla_desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(TimerMark)) == len(first.actions)


def maildesk(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "maildesk", "-c", str(config),
                             "--log-level", "WARNING", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def run_maildesk(config: Path, *args: str) -> str:
    proc = maildesk(config, *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


def test_tick_command_prints_what_it_did(tmp_path: Path, db_url: str) -> None:
    desk = make_desk(tmp_path / "desk", db_url)
    ref = open_invoice_ticket(desk, madrid(2025, 11, 24, 10, 0))
    desk.close()
    config = tmp_path / "desk" / "maildesk.toml"
    out = run_maildesk(config, "tick", "--now", "2025-11-24T14:00:00+01:00")
    assert f"{ref}  breach-response" in out and f"{ref}  escalate" in out
    assert "2 action(s) on 1 ticket(s)" in out
    assert "0 action(s) on 1 ticket(s)" in run_maildesk(config, "tick", "--now",
                                                          "2025-11-24T13:00:00Z")
    shown = json.loads(run_maildesk(config, "tickets", "show", ref, "--json"))
    assert shown["sla"]["response_breached_at"] == "2025-11-24T13:00:00+00:00"
    assert shown["sla"]["escalation_level"] == 1 and shown["tier"] == 2
    assert {"sla-breach", "escalated"} <= {e["action"] for e in shown["events"]}


@pytest.mark.postgres
def test_two_tick_processes_at_once_never_act_twice(tmp_path: Path,
                                                      pg_url: str) -> None:
    from tests.conftest import _truncate

    _truncate(pg_url)
    desk = make_desk(tmp_path / "desk", pg_url)
    refs = [open_invoice_ticket(desk, madrid(2025, 11, 24, 9, 0)) for _ in range(40)]
    for ref in refs[::2]:
        set_status(desk, ref, TicketStatus.PENDING, madrid(2025, 11, 24, 9, 30))
    desk.close()
    config = tmp_path / "desk" / "maildesk.toml"
    procs = [maildesk(config, "tick", "--json", "--now", "2025-11-28T12:00:00Z")
             for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    done = [(a["ref"], a["kind"], a["due_at"]) for r in results for a in r["actions"]]
    assert len(done) == len(set(done))
    assert sum(1 for _, kind, _ in done if kind == "remind-customer") == 20
    assert sum(1 for _, kind, _ in done if kind == "escalate") == 20 * 3
    desk = open_desk(load_config(config))
    assert len(outbox(desk, "reminder")) == 20
    assert len(outbox(desk, "escalation")) == 20 * 3
    assert tick(desk, datetime(2025, 11, 28, 12, 0, tzinfo=UTC)).actions == ()
    desk.close()


def test_tick_dry_run_prints_the_same_actions_and_writes_nothing(tmp_path: Path,
                                                                  db_url: str) -> None:
    desk = make_desk(tmp_path / "desk", db_url)
    ref = open_invoice_ticket(desk, madrid(2025, 11, 24, 10, 0))
    desk.close()
    config = tmp_path / "desk" / "maildesk.toml"
    before = json.loads(run_maildesk(config, "tickets", "show", ref, "--json"))
    outbox_before = run_maildesk(config, "outbox", "list", "--json")
    dry = run_maildesk(config, "tick", "--dry-run", "--now", "2025-11-24T14:00:00+01:00")
    assert f"{ref}  breach-response" in dry and f"{ref}  escalate" in dry
    assert "dry run: 2 action(s) on 1 ticket(s)" in dry
    after = json.loads(run_maildesk(config, "tickets", "show", ref, "--json"))
    assert after["events"] == before["events"] and after["sla"] == before["sla"]
    assert run_maildesk(config, "outbox", "list", "--json") == outbox_before
    assert "2 action(s) on 1 ticket(s)" in run_maildesk(config, "tick", "--now",
                                                        "2025-11-24T14:00:00+01:00")
