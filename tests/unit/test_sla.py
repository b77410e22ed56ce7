"""SLA policies, due times, pauses, the timer planner and rules/sla.yaml loading."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maildesk.errors import ConfigError
from maildesk.sla.calendar import BusinessCalendar
from maildesk.sla.load import load_sla
from maildesk.sla.model import (
    BusinessDuration,
    SlaSettings,
    TimerKind,
    due_times,
    paused_time,
    resolution_due_with_pause,
)
from maildesk.sla.planner import TicketView, TimerAction, plan_timers
from maildesk.sla.wording import describe_due, describe_duration, expected_first_response
from maildesk.types import TicketStatus

MADRID = ZoneInfo("Europe/Madrid")
H = timedelta(hours=1)
EXAMPLES = Path(__file__).parents[2] / "rules"
SLA = """\
default_policy: standard
warn_at: 80%
policies:
  standard:
    P1: {response: 1h, resolution: 4h}
    P2: {response: 2h, resolution: 1d}
    P3: {response: 4h, resolution: 3d}
    P4: {response: 1d, resolution: 5d}
  gold:
    P1: {response: 15m, resolution: 2h}
escalation:
  repeat_after: 2h
  max_tier: 3
pending:
  remind_customer_after: 2d
  auto_close_after: 5d
agent_reminder:
  after: 4h
"""
CALENDAR = """\
timezone: Europe/Madrid
hours:
  weekdays: 09:00-18:00
holidays:
  - {date: 2025-12-08, name: Immaculate Conception}
"""


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)  # type: ignore[misc]


def write(tmp_path: Path, sla: str = SLA, calendar: str = CALENDAR) -> Path:
    (tmp_path / "sla.yaml").write_text(sla, encoding="utf-8")
    (tmp_path / "calendar.yaml").write_text(calendar, encoding="utf-8")
    return tmp_path


@pytest.fixture
def settings(tmp_path: Path) -> SlaSettings:
    return load_sla(write(tmp_path), "UTC")


def view(**kwargs: object) -> TicketView:
    base: dict[str, object] = dict(ticket_id=7, status=TicketStatus.OPEN, priority="P1",
                                   created_at=local(2025, 11, 24, 9))
    base.update(kwargs)
    return TicketView(**base)  # type: ignore[arg-type]


def kinds(actions: list[TimerAction]) -> list[str]:
    return [a.kind.value for a in actions]


# -- loading -----------------------------------------------------------------------------

def test_shipped_examples_load(tmp_path: Path) -> None:
    for name in ("sla.yaml", "calendar.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    settings = load_sla(tmp_path, "UTC")
    assert settings.calendar.timezone == MADRID
    assert settings.calendar.country == "ES" and settings.calendar.subdiv == "MD"
    assert set(settings.policies) == {"standard", "gold"}
    # gold leaves P3 out and falls back to the default policy's target.
    assert settings.policy("gold").target("P3") == settings.policy("standard").target("P3")


def test_missing_files_mean_defaults_in_the_desk_timezone(tmp_path: Path) -> None:
    settings = load_sla(tmp_path, "Europe/Madrid")
    assert settings.calendar.timezone == MADRID
    assert settings.policy(None).target("P1").response == BusinessDuration(time=H)
    assert settings.warn_at == 0.8


def test_hours_shorthands(tmp_path: Path) -> None:
    calendar = "hours:\n  weekdays: 09:00-14:00, 15:00-18:00\n  friday: closed\n" \
               "  saturday: [10:00-12:00]\n"
    hours = load_sla(write(tmp_path, calendar=calendar), "UTC").calendar.hours
    assert hours[0] == ((540, 840), (900, 1080))
    assert hours[4] == () and hours[5] == ((600, 720),) and hours[6] == ()
    always = load_sla(write(tmp_path, calendar="hours: 24x7\n"), "UTC").calendar
    assert always.hours[6] == ((0, 1440),)


def test_bad_yaml_syntax_is_located(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_sla(write(tmp_path, sla="policies:\n  standard: [1h\nwarn_at: 80%\n"), "UTC")
    problem = caught.value.problems[0]
    assert problem.path.endswith("sla.yaml")
    assert problem.line == 3 and problem.column is not None
    assert str(problem).startswith(f"{tmp_path / 'sla.yaml'}:3:")


def test_every_bad_value_is_reported_with_line_and_column(tmp_path: Path) -> None:
    sla = SLA.replace("P1: {response: 15m", "P1: {response: 15x").replace("80%", "180%") \
        .replace("max_tier: 3", "max_tier: 3\n  sideways: yes")
    calendar = CALENDAR.replace("Europe/Madrid", "Europe/Atlantis") \
        .replace("{date: 2025-12-08, name: Immaculate Conception}", "Christmas") + "country: XX\n"
    with pytest.raises(ConfigError) as caught:
        load_sla(write(tmp_path, sla, calendar), "UTC")
    found = {(Path(p.path).name, p.key): (p.line, p.column) for p in caught.value.problems}
    assert found[("sla.yaml", "policies.gold.P1.response")] == (10, 20)
    assert found[("sla.yaml", "warn_at")] == (2, 10)
    assert found[("sla.yaml", "escalation.sideways")] == (14, 3)
    assert found[("calendar.yaml", "holidays[0]")] == (5, 5)
    assert found[("calendar.yaml", "timezone")] == (1, 11)
    assert ("calendar.yaml", "holidays[0]") in found
    assert ("calendar.yaml", "country") in found
    assert "15x" in str(caught.value)


def test_default_policy_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="default policy 'premium'"):
        load_sla(write(tmp_path, sla="default_policy: premium\n" + SLA.split("\n", 1)[1]),
                 "UTC")


def test_overlapping_hours_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="overlap"):
        load_sla(write(tmp_path, calendar="hours:\n  monday: [09:00-14:00, 13:00-18:00]\n"),
                 "UTC")


# -- due times -----------------------------------------------------------------------------

def test_due_times_friday_evening(settings: SlaSettings) -> None:
    response, resolution = settings.due_times(None, "P2", local(2025, 11, 21, 17, 55))
    assert response == local(2025, 11, 24, 10, 55)
    assert resolution == local(2025, 11, 24, 17, 55)  # 1d: same clock, next business day


def test_due_times_skip_explicit_holiday(settings: SlaSettings) -> None:
    # Friday 5 Dec + 4h: Monday 8 Dec is a holiday.
    response, _ = due_times(settings.policy(None), "P3", local(2025, 12, 5, 16),
                            settings.calendar)
    assert response == local(2025, 12, 9, 11)


def test_unknown_policy_and_priority_fall_back(settings: SlaSettings) -> None:
    assert settings.policy("removed").name == "standard"
    assert settings.policy(None).target("P9") == settings.policy(None).target("P4")


def test_pause_moves_the_resolution_due_time(settings: SlaSettings) -> None:
    cal, policy = settings.calendar, settings.policy(None)
    created = local(2025, 11, 24, 9)  # P1: resolution due 13:00
    # Pending from 11:00 to 16:00 the same day: 5 business hours.
    paused = paused_time(local(2025, 11, 24, 11), local(2025, 11, 24, 16), cal)
    assert paused == 5 * H
    due = resolution_due_with_pause(policy, "P1", created, paused, cal)
    assert due == local(2025, 11, 24, 18)  # 13:00 + 5h ends exactly at closing time
    assert settings.due_times(None, "P1", created, paused)[1] == due
    # A pause over a weekend only counts working hours.
    assert paused_time(local(2025, 11, 21, 17), local(2025, 11, 24, 10), cal) == 2 * H


# -- planner -------------------------------------------------------------------------------

def p1(settings: SlaSettings, **kwargs: object) -> TicketView:
    created = kwargs.pop("created_at", local(2025, 11, 24, 9))
    response, resolution = settings.due_times(None, "P1", created)  # type: ignore[arg-type]
    due: dict[str, object] = dict(response_due_at=response, resolution_due_at=resolution)
    return view(created_at=created, **(due | kwargs))


def test_nothing_is_planned_before_its_time(settings: SlaSettings) -> None:
    assert plan_timers(p1(settings), settings, local(2025, 11, 24, 9, 47)) == []


def test_warning_at_80_percent(settings: SlaSettings) -> None:
    ticket = p1(settings)
    actions = plan_timers(ticket, settings, local(2025, 11, 24, 9, 48))
    assert kinds(actions) == ["warn-response"]
    assert actions[0].due_at == local(2025, 11, 24, 9, 48)
    answered = replace(ticket, first_response_at=local(2025, 11, 24, 9, 30))
    later = plan_timers(answered, settings, local(2025, 11, 24, 12, 12))
    assert [(a.kind.value, a.due_at) for a in later] == \
        [("warn-resolution", local(2025, 11, 24, 12, 12))]


def test_warning_accounts_for_a_pause(settings: SlaSettings) -> None:
    # Resolution due moved from 13:00 to 15:00 by a 2h pause: 80% of the 4h running
    # time is 48 minutes before the new due time.
    ticket = p1(settings, first_response_at=local(2025, 11, 24, 9, 30), paused=2 * H,
                resolution_due_at=local(2025, 11, 24, 15))
    actions = plan_timers(ticket, settings, local(2025, 11, 24, 14, 30))
    assert [(a.kind.value, a.due_at) for a in actions] == \
        [("warn-resolution", local(2025, 11, 24, 14, 12))]


def test_per_policy_warning_threshold(tmp_path: Path) -> None:
    sla = SLA.replace("  gold:\n", "  gold:\n    warn_at: 50%\n")
    settings = load_sla(write(tmp_path, sla), "UTC")
    created = local(2025, 11, 24, 9)
    response, _ = settings.due_times("gold", "P1", created)
    ticket = view(policy="gold", created_at=created, response_due_at=response)
    assert plan_timers(ticket, settings, local(2025, 11, 24, 9, 8))[0].due_at == \
        local(2025, 11, 24, 9, 7, 30)


def test_breach_then_escalation_through_all_tiers_in_order(settings: SlaSettings) -> None:
    ticket = p1(settings)  # response due 10:00, steps every 2h: 10:00, 12:00, 14:00
    actions = plan_timers(ticket, settings, local(2025, 11, 24, 15))
    escalations = [a for a in actions if a.kind == TimerKind.ESCALATE]
    assert [(a.due_at, a.level, a.to_tier) for a in escalations] == [
        (local(2025, 11, 24, 10), 1, 2),
        (local(2025, 11, 24, 12), 2, 3),
        (local(2025, 11, 24, 14), 3, None),  # top tier: notify only
    ]
    assert all(a.notify == ("team-lead",) for a in escalations)
    assert kinds(actions)[:2] == ["breach-response", "escalate"]
    assert "breach-resolution" in kinds(actions)  # resolution was due at 13:00
    assert [a.due_at for a in actions] == sorted(a.due_at for a in actions)


def test_escalation_continues_from_the_current_tier(settings: SlaSettings) -> None:
    ticket = p1(settings, tier=2, escalation_level=1,
                response_breached_at=local(2025, 11, 24, 10))
    done = {("breach-response", local(2025, 11, 24, 10)), ("escalate", local(2025, 11, 24, 10))}
    actions = plan_timers(ticket, settings, local(2025, 11, 24, 12, 5), done)
    assert [(a.kind.value, a.level, a.to_tier) for a in actions] == [("escalate", 2, 3)]


def test_no_escalation_once_answered_or_pending(settings: SlaSettings) -> None:
    answered = p1(settings, first_response_at=local(2025, 11, 24, 10, 30))
    actions = plan_timers(answered, settings, local(2025, 11, 24, 11))
    assert kinds(actions) == ["breach-response"]  # late, so recorded, but not escalated
    pending = p1(settings, status=TicketStatus.PENDING, pending_since=local(2025, 11, 24, 9, 50),
                 first_response_at=local(2025, 11, 24, 9, 50))
    assert plan_timers(pending, settings, local(2025, 11, 24, 17)) == []


def test_planning_is_idempotent_and_skips_done_keys(settings: SlaSettings) -> None:
    ticket, now = p1(settings), local(2025, 11, 24, 15)
    first = plan_timers(ticket, settings, now)
    assert first == plan_timers(ticket, settings, now)
    done = {a.key for a in first}
    assert plan_timers(ticket, settings, now, done) == []
    # A key read back from the database (another offset, microseconds dropped) still matches.
    reread = {(kind, at.astimezone(MADRID)) for kind, at in done}
    assert plan_timers(ticket, settings, now, reread) == []
    assert all(a.due_at.tzinfo == UTC and a.due_at.microsecond == 0 for a in first)


def test_warning_and_breach_happen_once_per_ticket(settings: SlaSettings) -> None:
    # Warned at 12:12, then a pause moved the due time: no second warning after resuming.
    ticket = p1(settings, first_response_at=local(2025, 11, 24, 9, 30), paused=H,
                resolution_due_at=local(2025, 11, 24, 14))
    done = {("warn-resolution", local(2025, 11, 24, 12, 12))}
    assert plan_timers(ticket, settings, local(2025, 11, 24, 13, 30), done) == []


def test_pending_reminder_then_auto_close(settings: SlaSettings) -> None:
    since = local(2025, 11, 21, 12)  # Friday
    ticket = p1(settings, status=TicketStatus.PENDING, pending_since=since,
                first_response_at=since)
    assert plan_timers(ticket, settings, local(2025, 11, 25, 11, 59)) == []
    remind = plan_timers(ticket, settings, local(2025, 11, 25, 12))
    assert [(a.kind.value, a.due_at, a.notify) for a in remind] == \
        [("remind-customer", local(2025, 11, 25, 12), ("customer",))]
    # 5 business days after Friday 12:00 is the next Friday 12:00.
    assert plan_timers(ticket, settings, local(2025, 11, 28, 11, 59),
                       {remind[0].key}) == []
    close = plan_timers(ticket, settings, local(2025, 11, 28, 12), {remind[0].key})
    assert [(a.kind.value, a.due_at) for a in close] == [("auto-close", local(2025, 11, 28, 12))]


def test_auto_close_alone_when_the_scheduler_was_down(settings: SlaSettings) -> None:
    ticket = p1(settings, status=TicketStatus.PENDING, pending_since=local(2025, 11, 3, 12))
    assert kinds(plan_timers(ticket, settings, local(2025, 12, 1, 9))) == ["auto-close"]


def test_agent_reminder_when_the_customer_spoke_last(settings: SlaSettings) -> None:
    ticket = p1(settings, first_response_at=local(2025, 11, 24, 9, 30), assignee="ana@example.com",
                resolution_due_at=local(2025, 11, 28, 9),
                last_agent_activity_at=local(2025, 11, 24, 9, 30),
                last_customer_activity_at=local(2025, 11, 24, 16))
    actions = plan_timers(ticket, settings, local(2025, 11, 25, 11))
    assert [(a.kind.value, a.due_at, a.notify) for a in actions] == \
        [("remind-agent", local(2025, 11, 25, 11), ("assignee",))]
    replied = replace(ticket, last_agent_activity_at=local(2025, 11, 25, 10))
    assert plan_timers(replied, settings, local(2025, 11, 25, 11)) == []


def test_resolved_and_closed_tickets_plan_nothing(settings: SlaSettings) -> None:
    for status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        ticket = p1(settings, status=status, first_response_at=local(2025, 11, 24, 9, 10))
        assert plan_timers(ticket, settings, local(2025, 12, 24, 9)) == []


# -- wording -----------------------------------------------------------------------------

def test_expected_first_response_in_english_and_spanish(settings: SlaSettings) -> None:
    created = local(2025, 11, 21, 15)
    assert expected_first_response(settings, None, "P3", created, "en") == \
        "within 4 business hours (by Monday 24 November, 10:00)"
    assert expected_first_response(settings, None, "P3", created, "es") == \
        "en un plazo de 4 horas laborables (antes del lunes 24 de noviembre, 10:00)"


def test_describe_durations() -> None:
    assert describe_duration(BusinessDuration.parse("1h")) == "1 business hour"
    assert describe_duration(BusinessDuration.parse("2d"), "es") == "2 días laborables"
    assert describe_duration(BusinessDuration.parse("1d"), "es") == "1 día laborable"
    assert describe_duration(BusinessDuration.parse("1h30m")) == \
        "1 hour and 30 minutes of business time"
    assert describe_duration(BusinessDuration.parse("1d2h30m"), "es") == \
        "1 día, 2 horas y 30 minutos de tiempo laborable"
    cal = BusinessCalendar(timezone=MADRID)
    assert describe_due(BusinessDuration.parse("30m"), local(2025, 8, 6, 9, 5), cal, "es") == \
        "en un plazo de 30 minutos laborables (antes del miércoles 6 de agosto, 09:05)"


def test_duration_parsing() -> None:
    assert BusinessDuration.parse("1d4h") == BusinessDuration(1, 4 * H)
    assert str(BusinessDuration.parse("90m")) == "1h30m"
    for bad in ("", "4", "4x", "0h", "h"):
        with pytest.raises(ValueError):
            BusinessDuration.parse(bad)
