"""Report figures against a hand-computed history, on SQLite and PostgreSQL.

The fixture (desk time zone Europe/Madrid, UTC+1 in March 2024; period 4-10 March):

  ref   created (UTC)   local day  type      queue    prio chan  agent team  FR    RES    sat
  MD-1  03-04 09:00     03-04      incident  general  P2   smtp  ana   t1    600   3600   5
  MD-2  03-04 23:30     03-05      question  general  P3   imap  ana   t1    1200  7200   4
  MD-3  03-05 10:00     03-05      incident  billing  P1   smtp  bob   t2    300   -      -
  MD-4  03-06 08:00     03-06      request   general  P3   pipe  bob   t1    3000  10800  1
  MD-5  03-07 12:00     03-07      question  general  P3   smtp  -     -     -     -      -
  MD-6  03-10 22:00     03-10      incident  general  P2   smtp  ana   t1    900   -      -
  MD-7  03-10 23:30     03-11 (outside the period), open
  MD-8  spam, in the period (excluded everywhere)
  MD-9  02-20, open (backlog only)

now = 2024-03-11 12:00 UTC.
First response sorted 300 600 900 1200 3000: median 900, p90 = 1200 + 0.6*1800 = 2280.
Resolution 3600 7200 10800: median 7200, p90 = 7200 + 0.8*3600 = 10080.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from maildesk.reports import build, render
from maildesk.reports.model import Count
from maildesk.reports.queries import build_report, make_period
from maildesk.store.models import Contact, Ticket
from maildesk.tickets.threader import normalize_subject

NOW = datetime(2024, 3, 11, 12, 0, tzinfo=UTC)
TZ = "Europe/Madrid"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


def _contacts(session: Session) -> dict[str, Contact]:
    people = {k: Contact(email=f"{k}@customer.example", name=k, created_at=NOW)
              for k in ("c1", "c2", "c3")}
    session.add_all(people.values())
    session.flush()
    return people


def _ticket(session: Session, number: int, created: datetime, customer: Contact,
            subject: str, **values: object) -> None:
    defaults: dict[str, object] = dict(status="open", type="question", priority="P3",
                                       queue="general", channel="smtp", tags=[])
    defaults.update(values)
    session.add(Ticket(number=number, ref=f"MD-{number}", customer_id=customer.id,
                       subject=subject, normalized_subject=normalize_subject(subject),
                       created_at=created, updated_at=created, last_activity_at=created,
                       **defaults))


def seed(session: Session) -> None:
    c = _contacts(session)
    _ticket(session, 1, at(3, 4, 9), c["c1"], "Printer offline", status="closed",
            type="incident", priority="P2", assignee="ana", team="t1",
            first_response_seconds=600, resolution_seconds=3600, resolved_at=at(3, 4, 11),
            satisfaction_score=5, satisfaction_at=at(3, 4, 12), response_due_at=at(3, 4, 10),
            tags=["printer"])
    _ticket(session, 2, at(3, 4, 23, 30), c["c1"], "Re: Printer offline", status="resolved",
            channel="imap", assignee="ana", team="t1", first_response_seconds=1200,
            resolution_seconds=7200, resolved_at=at(3, 5, 12), satisfaction_score=4,
            satisfaction_at=at(3, 5, 13), response_due_at=at(3, 5, 9),
            response_breached_at=at(3, 5, 9), tags=["printer", "network"])
    _ticket(session, 3, at(3, 5, 10), c["c2"], "Invoice: wrong amount!", type="incident",
            queue="billing", priority="P1", assignee="bob", team="t2",
            first_response_seconds=300, reopen_count=1, resolution_due_at=at(3, 6, 10),
            resolution_breached_at=at(3, 6, 10))
    _ticket(session, 4, at(3, 6, 8), c["c3"], "VPN cannot connect", status="closed",
            type="request", channel="pipe", assignee="bob", team="t1",
            first_response_seconds=3000, resolution_seconds=10800, resolved_at=at(3, 7, 8),
            satisfaction_score=1, satisfaction_comment=" Too slow ",
            satisfaction_at=at(3, 7, 9), response_due_at=at(3, 6, 12), tags=["vpn"])
    _ticket(session, 5, at(3, 7, 12), c["c3"], "VPN cannot connect", status="new",
            tags=["vpn"])
    _ticket(session, 6, at(3, 10, 22), c["c1"], "Printer offline again", status="pending",
            type="incident", priority="P2", assignee="ana", team="t1",
            first_response_seconds=900)
    _ticket(session, 7, at(3, 10, 23, 30), c["c2"], "Late one")
    _ticket(session, 8, at(3, 6, 9), c["c2"], "Cheap pills", status="new", spam=True,
            tags=["printer"])
    _ticket(session, 9, at(2, 20, 9), c["c2"], "Old one")


@pytest.fixture
def report_session(engine: Engine):  # noqa: ANN201
    with Session(engine) as session, session.begin():
        seed(session)
        yield session


def _report(session: Session, queue: str | None = None):  # noqa: ANN202
    period = make_period(date(2024, 3, 4), date(2024, 3, 10), TZ, NOW, queue)
    return build_report(session, period)


def counts(*pairs: tuple[str, int]) -> tuple[Count, ...]:
    return tuple(Count(k, n) for k, n in pairs)


def test_volume(report_session: Session) -> None:
    volume = _report(report_session).volume
    assert volume.total == 6
    assert volume.by_day == counts(("2024-03-04", 1), ("2024-03-05", 2), ("2024-03-06", 1),
                                   ("2024-03-07", 1), ("2024-03-08", 0), ("2024-03-09", 0),
                                   ("2024-03-10", 1))
    assert volume.by_type == counts(("incident", 3), ("question", 2), ("request", 1))
    assert volume.by_queue == counts(("general", 5), ("billing", 1))
    assert volume.by_priority == counts(("P3", 3), ("P2", 2), ("P1", 1))
    assert volume.by_channel == counts(("smtp", 4), ("imap", 1), ("pipe", 1))


def test_durations_and_reopens(report_session: Session) -> None:
    report = _report(report_session)
    assert (report.first_response.count, report.first_response.median,
            report.first_response.p90) == (5, 900.0, pytest.approx(2280.0))
    assert (report.resolution.count, report.resolution.median, report.resolution.p90) == (
        3, 7200.0, pytest.approx(10080.0))
    assert (report.reopens.resolved, report.reopens.reopened, report.reopens.rate) == (
        4, 1, 0.25)


def test_sla(report_session: Session) -> None:
    sla = _report(report_session).sla
    assert (sla.response.with_due, sla.response.breached) == (3, 1)
    assert sla.response.compliance == pytest.approx(2 / 3)
    assert (sla.resolution.with_due, sla.resolution.breached, sla.resolution.compliance) == (
        1, 1, 0.0)
    assert [(r.priority, r.response.with_due, r.response.breached, r.resolution.with_due,
             r.resolution.breached) for r in sla.by_priority] == [
        ("P1", 0, 0, 1, 1), ("P2", 1, 0, 0, 0), ("P3", 2, 1, 0, 0)]
    assert [(b.ref, b.kind) for b in sla.recent_breaches] == [
        ("MD-3", "resolution"), ("MD-2", "response")]


def test_backlog(report_session: Session) -> None:
    backlog = _report(report_session).backlog
    assert [(r.status, r.counts) for r in backlog.rows] == [
        ("new", (0, 0, 1, 0)), ("open", (1, 0, 1, 1)), ("pending", (1, 0, 0, 0))]
    assert backlog.total == 5


def test_agents_and_teams(report_session: Session) -> None:
    agents = _report(report_session).agents
    assert [(p.name, p.handled, p.resolved, p.median_first_response, p.satisfaction, p.rated)
            for p in agents.agents] == [("ana", 3, 2, 900.0, 4.5, 2),
                                        ("bob", 2, 1, 1650.0, 1.0, 1)]
    assert [(p.name, p.handled, p.resolved, p.median_first_response, p.rated)
            for p in agents.teams] == [("t1", 4, 3, 1050.0, 3), ("t2", 1, 0, 300.0, 0)]
    assert agents.teams[0].satisfaction == pytest.approx(10 / 3, abs=1e-4)
    assert agents.teams[1].satisfaction is None


def test_satisfaction(report_session: Session) -> None:
    sat = _report(report_session).satisfaction
    assert (sat.resolved, sat.rated, sat.response_rate) == (4, 3, 0.75)
    assert sat.average == pytest.approx(10 / 3, abs=1e-4)
    assert sat.distribution == (1, 0, 0, 1, 1)
    assert [(s.ref, s.score, s.comment, s.assignee) for s in sat.low_scores] == [
        ("MD-4", 1, "Too slow", "bob")]


def test_recurring(report_session: Session) -> None:
    rec = _report(report_session).recurring
    assert rec.subjects == counts(("printer offline", 2), ("vpn cannot connect", 2))
    assert rec.terms == counts(("offline", 3), ("printer", 3), ("cannot", 2), ("connect", 2),
                               ("again", 1), ("amount", 1), ("invoice", 1), ("wrong", 1))
    assert rec.tags == counts(("printer", 2), ("vpn", 2), ("network", 1))
    assert rec.customers == counts(("c1@customer.example", 3), ("c3@customer.example", 2),
                                   ("c2@customer.example", 1))


def test_queue_filter(report_session: Session) -> None:
    report = _report(report_session, queue="billing")
    assert report.volume.total == 1
    assert report.first_response.median == 300.0
    assert report.resolution.count == 0 and report.resolution.median is None
    assert report.backlog.total == 1
    assert report.satisfaction.response_rate == 0.0


def test_empty_period(report_session: Session) -> None:
    period = make_period(date(2023, 1, 1), date(2023, 1, 2), TZ, NOW)
    report = build_report(report_session, period)
    assert report.volume.total == 0 and report.first_response.median is None
    assert report.reopens.rate is None and report.satisfaction.average is None
    for fmt in ("text", "csv", "json", "html"):
        assert render(report, fmt)


def test_renderings(report_session: Session) -> None:
    report = _report(report_session)
    data = json.loads(render(report, "json"))
    assert {"volume", "first_response", "resolution", "sla", "backlog", "agents",
            "satisfaction", "recurring"} <= set(data)
    assert data["first_response"]["median"] == 900.0
    assert data["satisfaction"]["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}
    text = render(report, "text")
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "15m 00s" in text or "15m" in text
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert {"section", "metric", "key", "value"} == set(rows[0])
    assert {"section": "first_response", "metric": "median_seconds", "key": "",
            "value": "900.0"} in rows
    html = render(report, "html")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")


def test_build_uses_desk_timezone(report_session: Session) -> None:
    report = build(report_session, timezone=TZ, now=NOW, first_day=date(2024, 3, 5),
                   last_day=date(2024, 3, 5))
    assert report.volume.total == 2  # MD-2 (local 00:30) and MD-3
    default = build(report_session, timezone=TZ, now=NOW)
    assert default.period.last_day == date(2024, 3, 11)
    assert default.period.first_day == date(2024, 3, 11) - timedelta(days=29)
