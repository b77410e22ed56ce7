"""Business-time arithmetic: working hours, holidays, DST, 24x7."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maildesk.sla.calendar import ALWAYS_OPEN, BusinessCalendar, parse_span, public_holidays

MADRID = ZoneInfo("Europe/Madrid")
H = timedelta(hours=1)
SPLIT = (((9 * 60, 14 * 60), (15 * 60, 18 * 60)),) * 5 + ((), ())


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)  # type: ignore[misc]


def office(**kwargs: object) -> BusinessCalendar:
    return BusinessCalendar(timezone=MADRID, **kwargs)  # type: ignore[arg-type]


def test_friday_evening_rolls_to_monday() -> None:
    due = office().add_business_time(local(2025, 11, 21, 17, 55), H)
    assert due == local(2025, 11, 24, 9, 55)
    assert due.tzinfo == UTC


def test_target_ending_at_closing_time_is_due_at_closing() -> None:
    assert office().add_business_time(local(2025, 11, 21, 17), H) == local(2025, 11, 21, 18)


def test_arriving_exactly_at_closing_time_starts_next_morning() -> None:
    cal = office()
    assert not cal.is_business_time(local(2025, 11, 21, 18))
    assert cal.is_business_time(local(2025, 11, 21, 17, 59))
    assert cal.next_business_start(local(2025, 11, 21, 18)) == local(2025, 11, 24, 9)
    assert cal.add_business_time(local(2025, 11, 21, 18), H) == local(2025, 11, 24, 10)


def test_split_day_skips_lunch() -> None:
    cal = office(hours=SPLIT)
    assert cal.add_business_time(local(2025, 11, 24, 13, 30), H) == local(2025, 11, 24, 15, 30)
    assert not cal.is_business_time(local(2025, 11, 24, 14, 30))
    assert cal.next_business_start(local(2025, 11, 24, 14, 30)) == local(2025, 11, 24, 15)
    assert cal.business_time_between(local(2025, 11, 24, 8), local(2025, 11, 25, 8)) == 8 * H


def test_explicit_holiday_is_skipped() -> None:
    cal = office(holidays={date(2025, 11, 24): "Company day"})
    assert cal.add_business_time(local(2025, 11, 21, 17, 55), H) == local(2025, 11, 25, 9, 55)
    assert cal.holiday_name(date(2025, 11, 24)) == "Company day"


def test_ticket_arriving_on_a_holiday_starts_next_business_day() -> None:
    cal = office(holidays={date(2025, 12, 25): "Christmas"})
    assert cal.add_business_time(local(2025, 12, 25, 11), 2 * H) == local(2025, 12, 26, 11)


def test_country_holidays_from_the_package() -> None:
    cal = office(country="ES", subdiv="MD", country_holidays=public_holidays("ES", "MD"))
    # 1 May (national) and 2 May (Community of Madrid) 2025 are Thursday and Friday.
    assert cal.is_holiday(date(2025, 5, 1)) and cal.is_holiday(date(2025, 5, 2))
    assert cal.add_business_time(local(2025, 4, 30, 17, 30), H) == local(2025, 5, 5, 9, 30)
    # Without the subdivision, 2 May is an ordinary working day.
    national = office(country_holidays=public_holidays("ES"))
    assert not national.is_holiday(date(2025, 5, 2))


def test_unknown_country_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        public_holidays("XX")


def test_dst_spring_forward_in_a_24x7_calendar() -> None:
    cal = office(hours=ALWAYS_OPEN)
    # The last Sunday of March 2025 has 23 hours in Madrid.
    day = cal.business_time_between(local(2025, 3, 30), local(2025, 3, 31))
    assert day == 23 * H
    assert cal.add_business_time(local(2025, 3, 30, 1, 30), H) == local(2025, 3, 30, 3, 30)


def test_dst_fall_back_in_a_24x7_calendar() -> None:
    cal = office(hours=ALWAYS_OPEN)
    assert cal.business_time_between(local(2025, 10, 26), local(2025, 10, 27)) == 25 * H
    # 01:30 CEST + 2h = 02:30 CET (the second 02:30 of the night).
    due = cal.add_business_time(local(2025, 10, 26, 1, 30), 2 * H)
    assert due == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)


def test_office_hours_keep_their_wall_clock_across_dst() -> None:
    cal = office()
    # Friday before each change + 2h lands on Monday 10:00 local, whatever the offset.
    assert cal.add_business_time(local(2025, 3, 28, 17), 2 * H) == local(2025, 3, 31, 10)
    assert cal.add_business_time(local(2025, 10, 24, 17), 2 * H) == local(2025, 10, 27, 10)
    assert local(2025, 3, 31, 10).utcoffset() == 2 * H
    assert cal.business_time_between(local(2025, 3, 28, 9), local(2025, 3, 31, 18)) == 18 * H


def test_working_interval_across_the_autumn_repeat_counts_both_hours() -> None:
    night = ((((1 * 60, 4 * 60),),) * 7)
    cal = office(hours=night)
    assert cal.business_time_between(local(2025, 10, 26), local(2025, 10, 27)) == 4 * H
    assert cal.business_time_between(local(2025, 3, 30), local(2025, 3, 31)) == 2 * H


def test_always_open_is_plain_elapsed_time() -> None:
    cal = office(hours=ALWAYS_OPEN)
    start = local(2025, 11, 22, 23, 10)  # a Saturday night
    assert cal.is_business_time(start)
    assert cal.add_business_time(start, 30 * H) == start + 30 * H


def test_subtraction_and_between_are_inverse_of_addition() -> None:
    cal = office(hours=SPLIT)
    start = local(2025, 11, 20, 16, 12)
    for hours in (0.5, 3, 9, 27, 80):
        due = cal.add_business_time(start, hours * H)
        assert cal.business_time_between(start, due) == hours * H
        assert cal.business_time_between(due, start) == -hours * H
        assert cal.add_business_time(due, -hours * H) == start


def test_zero_delta_returns_start() -> None:
    assert office().add_business_time(local(2025, 11, 22, 12), timedelta(0)) == \
        local(2025, 11, 22, 12)


def test_long_spans_are_fast() -> None:
    cal = office(country_holidays=public_holidays("ES"))
    due = cal.add_business_time(local(2025, 1, 1), 2000 * H)
    assert cal.business_time_between(local(2025, 1, 1), due) == 2000 * H


def test_business_days_keep_the_clock_time() -> None:
    cal = office()
    assert cal.add_business_days(local(2025, 11, 24, 10), 2) == local(2025, 11, 26, 10)
    assert cal.add_business_days(local(2025, 11, 21, 17, 55), 1) == local(2025, 11, 24, 17, 55)
    # Outside working hours the count starts at the next opening.
    assert cal.add_business_days(local(2025, 11, 22, 11), 1) == local(2025, 11, 25, 9)


def test_business_days_overflow_a_shorter_day() -> None:
    short_friday = ((((9 * 60, 18 * 60),),) * 4 + (((9 * 60, 14 * 60),),) + ((), ()))
    cal = office(hours=short_friday)
    # Thursday 16:00 is 7h into the day; Friday has 5h, so 2h run into Monday.
    assert cal.add_business_days(local(2025, 11, 20, 16), 1) == local(2025, 11, 24, 11)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        office().is_business_time(datetime(2025, 11, 24, 10))


def test_calendar_without_hours_is_refused() -> None:
    with pytest.raises(ValueError):
        office(hours=((),) * 7)


def test_parse_span() -> None:
    assert parse_span("09:00-14:30") == (540, 870)
    assert parse_span("00:00-24:00") == (0, 1440)
    for bad in ("9-14", "14:00-09:00", "09:00-25:00", "09:61-10:00"):
        with pytest.raises(ValueError):
            parse_span(bad)


def test_shipped_calendar_takes_this_and_next_years_holidays_from_the_package() -> None:
    """No fixed year anywhere: public holidays of the current and next year are read at
    load (Spain, Madrid), company days come back every year."""
    from pathlib import Path

    from maildesk.sla.load import load_sla

    cal = load_sla(Path(__file__).resolve().parents[2] / "rules", "UTC").calendar
    this = date.today().year
    assert (cal.country, cal.subdiv) == ("ES", "MD")
    assert {this, this + 1} <= set(cal.country_holidays.years)  # type: ignore[union-attr]
    for year in (this, this + 1, this + 5):
        assert cal.is_holiday(date(year, 1, 1)) and cal.is_holiday(date(year, 12, 25))
        assert cal.holiday_name(date(year, 12, 24)) == "Christmas Eve (company day)"
        assert cal.is_holiday(date(year, 1, 6))  # Epiphany
    assert not cal.is_holiday(date(this, 6, 10))


def test_yearly_and_dated_extra_days_off(tmp_path) -> None:  # noqa: ANN001
    from maildesk.errors import ConfigError
    from maildesk.sla.load import load_sla

    (tmp_path / "calendar.yaml").write_text(
        "holidays:\n  - 2027-05-14\n  - --08-15\n  - {date: 02-29, name: Leap}\n")
    cal = load_sla(tmp_path, "UTC").calendar
    assert cal.is_holiday(date(2027, 5, 14)) and not cal.is_holiday(date(2028, 5, 14))
    assert cal.is_holiday(date(2026, 8, 15)) and cal.is_holiday(date(2031, 8, 15))
    assert cal.holiday_name(date(2028, 2, 29)) == "Leap"
    (tmp_path / "calendar.yaml").write_text("holidays:\n  - 02-30\n")
    with pytest.raises(ConfigError, match=r"holidays\[0\]: expected a date"):
        load_sla(tmp_path, "UTC")
