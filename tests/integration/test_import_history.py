"""`maildesk import` of a two-month-old conversation: the desk's past answers are kept,
answered tickets are settled, and the next `tick` queues nothing. Both engines."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import func, select

from maildesk.intake.importer import import_path
from maildesk.runtime.desk import Desk
from maildesk.sla.scheduler import tick
from maildesk.store.models import Event, Message, Outbox, Ticket
from tests.conftest import eml

CONVERSATION = [  # file, hours after the first mail
    ("01-customer-question.eml", 0), ("02-desk-answer.eml", 2),
    ("03-customer-thanks.eml", 26), ("04-agent-answer.eml", 27),
    ("05-unanswered.eml", 50),
]
TIMER_EVENTS = ("breach", "escalated", "sla-warning", "reminder", "agent-reminder", "survey")


def history(path: Path, start: datetime) -> Path:
    box = mailbox.mbox(path)
    for name, hours in CONVERSATION:
        date = format_datetime(start + timedelta(hours=hours))
        box.add(eml(f"history/{name}").replace(b"{DATE}", date.encode()))
    box.flush()
    box.close()
    return path


def test_history_is_kept_settled_and_starts_no_timers(desk: Desk, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(days=62)
    summary = import_path(desk, history(tmp_path / "history.mbox", start))
    assert (summary.new_tickets, summary.threaded, summary.answers) == (2, 1, 2)
    assert (summary.settled.answered, summary.settled.open) == (1, 1)
    assert summary.settled.timers_skipped >= 1  # the agent reminder for the old question
    with desk.sessions() as session:
        answered, unanswered = session.execute(select(Ticket).order_by(Ticket.number)).scalars()
        assert answered.status == "resolved"
        assert answered.first_response_at == (start + timedelta(hours=2)).replace(microsecond=0)
        assert answered.resolved_at == (start + timedelta(hours=27)).replace(microsecond=0)
        messages = session.execute(select(Message.direction, Message.from_addr).where(
            Message.ticket_id == answered.id).order_by(Message.created_at)).all()
        assert [tuple(m) for m in messages] == [
            ("in", "olivia.grant@lakeside-dental.example"), ("out", "support@acme.example"),
            ("in", "olivia.grant@lakeside-dental.example"), ("out", "ana@example.com")]
        assert unanswered.status in ("new", "open")
        assert unanswered.response_due_at is None and unanswered.resolution_due_at is None
    for later in (now, now + timedelta(days=3), now + timedelta(days=30)):
        assert tick(desk, later).actions == ()
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0
        actions = set(session.execute(select(Event.action)).scalars())
    assert not {a for a in actions if a.startswith(TIMER_EVENTS)}, actions
    assert {"past-answer", "imported-open"} <= actions
