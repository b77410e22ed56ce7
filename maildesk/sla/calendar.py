"""The business calendar: when the desk is working, and business-time arithmetic.

SLA targets are counted in business time, so "4h" means four hours in which the desk is
open. Working hours are wall-clock intervals per weekday in the desk's time zone; every
day is turned into UTC intervals with zoneinfo, one day at a time, so daylight-saving
changes come out right (a 24x7 day in Europe/Madrid lasts 23 hours in March and 25 in
October) and whole days are skipped without stepping minute by minute.

Intervals are half-open: in a 09:00-18:00 day, 18:00 itself is not business time, but a
target that runs out exactly at closing time is due at 18:00, not the next morning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_MINUTES = 24 * 60
MAX_SEARCH_DAYS = 3660  # ten years of holidays in a row means the calendar is wrong

Span = tuple[int, int]  # (start, end) minutes after local midnight; end may be 1440 (24:00)
UtcSpan = tuple[datetime, datetime]


def office_hours() -> tuple[tuple[Span, ...], ...]:
    day = ((9 * 60, 18 * 60),)
    return (day,) * 5 + ((), ())


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours per weekday (Monday first), holidays and the time zone they live in.

    `country_holidays` is a lookup built from the `holidays` package (see
    `public_holidays`); it is not compared or hashed because it fills itself in lazily.
    `annual` holds days off on the same date every year, by (month, day).
    """

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    hours: tuple[tuple[Span, ...], ...] = field(default_factory=office_hours)
    holidays: Mapping[date, str] = field(default_factory=dict, hash=False)
    annual: Mapping[tuple[int, int], str] = field(default_factory=dict, hash=False)
    country: str | None = None
    subdiv: str | None = None
    country_holidays: Mapping[date, str] | None = field(default=None, compare=False,
                                                        hash=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ValueError("hours needs one entry per weekday, Monday first")
        for spans in self.hours:
            for start, end in spans:
                if not 0 <= start < end <= DAY_MINUTES:
                    raise ValueError(f"bad working interval {start}-{end}")
        if not any(self.hours):
            raise ValueError("the calendar has no working hours at all")

    # -- days ---------------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name if `day` is a holiday (explicit first, then the country's)."""
        if day in self.holidays:
            return self.holidays[day]
        if (day.month, day.day) in self.annual:
            return self.annual[(day.month, day.day)]
        lookup = self.country_holidays
        if lookup is not None and day in lookup:
            return str(lookup.get(day))
        return None

    def is_holiday(self, day: date) -> bool:
        return self.holiday_name(day) is not None

    def spans(self, day: date) -> tuple[Span, ...]:
        """The wall-clock working intervals of a local date; none on holidays."""
        if self.is_holiday(day):
            return ()
        return self.hours[day.weekday()]

    def is_business_day(self, day: date) -> bool:
        return bool(self.spans(day))

    def utc_spans(self, day: date) -> list[UtcSpan]:
        """The working intervals of a local date as UTC instants, in order.

        A wall time that does not exist (the spring-forward gap) is read with fold=0,
        i.e. with the offset before the change, which moves it forward by the gap; an
        ambiguous one (the autumn repeat) is its first occurrence.
        """
        result = []
        for start, end in self.spans(day):
            a, b = self.wall_to_utc(day, start), self.wall_to_utc(day, end)
            if b > a:
                result.append((a, b))
        return result

    def wall_to_utc(self, day: date, minute: int | timedelta) -> datetime:
        """Local `day` at `minute` (or a timedelta) after midnight, as an aware UTC datetime."""
        offset = minute if isinstance(minute, timedelta) else timedelta(minutes=minute)
        naive = datetime.combine(day, time()) + offset
        return naive.replace(tzinfo=self.timezone).astimezone(UTC)

    def local_date(self, dt: datetime) -> date:
        return _aware(dt).astimezone(self.timezone).date()

    # -- instants -------------------------------------------------------------------------

    def is_business_time(self, dt: datetime) -> bool:
        """True when the desk is working at the instant `dt`."""
        t = _aware(dt).astimezone(UTC)
        return any(a <= t < b for a, b in self.utc_spans(self.local_date(t)))

    def next_business_start(self, dt: datetime) -> datetime:
        """`dt` itself if the desk is working then, else the next opening (UTC)."""
        t = _aware(dt).astimezone(UTC)
        for a, b in self._spans_from(t):
            if t < b:
                return max(a, t)
        raise AssertionError("unreachable")  # _spans_from raises first

    def add_business_time(self, start: datetime, delta: timedelta) -> datetime:
        """The instant after `delta` of business time counted from `start` (UTC).

        Friday 17:55 plus 1h in a 09-18 calendar is Monday 09:55. A zero delta returns
        `start`; a negative one counts backwards (used for "warn 20% before the due time").
        """
        t = _aware(start).astimezone(UTC)
        if delta < timedelta(0):
            return self._subtract(t, -delta)
        if delta == timedelta(0):
            return t
        remaining = delta
        for a, b in self._spans_from(t):
            if b <= t:
                continue
            a = max(a, t)
            if remaining <= b - a:
                return a + remaining
            remaining -= b - a
        raise AssertionError("unreachable")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from `a` to `b`; negative when `b` comes before `a`."""
        start, end = _aware(a).astimezone(UTC), _aware(b).astimezone(UTC)
        if end < start:
            return -self.business_time_between(end, start)
        total = timedelta(0)
        day = self.local_date(start)
        while day <= self.local_date(end):
            for x, y in self.utc_spans(day):
                lo, hi = max(x, start), min(y, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same working-clock position `days` business days later (UTC).

        Monday 10:00 plus 2 days is Wednesday 10:00. Outside working hours the count
        starts at the next opening, so Saturday 11:00 plus 1 day is Tuesday 09:00 (Monday
        09:00 plus one day). The position is the wall-clock working time already passed in
        the day; when the target day is shorter, what does not fit runs into the next
        business day. Wall time (not elapsed time) keeps "same clock time" across DST.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        t = self.next_business_start(start)
        if days == 0:
            return t
        day = self.local_date(t)
        local = t.astimezone(self.timezone).replace(tzinfo=None)
        offset = _worked_before(self.spans(day), local - datetime.combine(day, time()))
        for _ in range(days):
            day = self._next_business_day(day)
        return self._at_offset(day, offset)

    # -- helpers --------------------------------------------------------------------------

    def _spans_from(self, t: datetime) -> Iterator[UtcSpan]:
        """UTC working intervals from the local day of `t` on, forever (or until absurd)."""
        day = self.local_date(t)
        for _ in range(MAX_SEARCH_DAYS):
            yield from self.utc_spans(day)
            day += timedelta(days=1)
        raise ValueError(f"no working time within {MAX_SEARCH_DAYS} days of {t.isoformat()}")

    def _subtract(self, t: datetime, delta: timedelta) -> datetime:
        remaining, day = delta, self.local_date(t)
        for _ in range(MAX_SEARCH_DAYS):
            for a, b in reversed(self.utc_spans(day)):
                if a >= t:
                    continue
                b = min(b, t)
                if remaining <= b - a:
                    return b - remaining
                remaining -= b - a
            day -= timedelta(days=1)
        raise ValueError(f"no working time within {MAX_SEARCH_DAYS} days before {t.isoformat()}")

    def _next_business_day(self, day: date) -> date:
        for _ in range(MAX_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_business_day(day):
                return day
        raise ValueError(f"no business day within {MAX_SEARCH_DAYS} days of {day}")

    def _at_offset(self, day: date, offset: timedelta) -> datetime:
        """The instant `offset` of wall working time into business day `day` (or later)."""
        for _ in range(MAX_SEARCH_DAYS):
            for start, end in self.spans(day):
                length = timedelta(minutes=end - start)
                if offset <= length:
                    return self.wall_to_utc(day, timedelta(minutes=start) + offset)
                offset -= length
            day = self._next_business_day(day)
        raise AssertionError("unreachable")  # _next_business_day raises first


def _worked_before(spans: tuple[Span, ...], wall: timedelta) -> timedelta:
    """Wall working time in `spans` before `wall` (time after local midnight)."""
    total = timedelta(0)
    for start, end in spans:
        lo, hi = timedelta(minutes=start), timedelta(minutes=end)
        total += max(timedelta(0), min(wall, hi) - lo)
    return total


def _aware(dt: datetime) -> datetime:
    """Refuse naive datetimes: a naive time in SLA arithmetic is always a bug."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: pass a timezone-aware one")
    return dt


def parse_clock(text: str) -> int:
    """'09:30' -> 570 minutes after midnight; '24:00' is allowed as the end of a day."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{text!r} is not a HH:MM time")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > DAY_MINUTES:
        raise ValueError(f"{text!r} is not a time of day between 00:00 and 24:00")
    return value


def parse_span(text: str) -> Span:
    """'09:00-14:00' -> (540, 840)."""
    first, sep, second = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not an interval like 09:00-18:00")
    start, end = parse_clock(first), parse_clock(second)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts (intervals cannot cross midnight)")
    return start, end


def public_holidays(country: str, subdiv: str | None = None,
                    years: Iterable[int] = ()) -> Mapping[date, str]:
    """A country's (and region's) public holidays from the `holidays` package.

    The `years` given (the loader passes the current and the next) are filled in now, so
    the lookups of a running desk only read; any other year is filled in when first
    asked for. Raises ValueError for a country or subdivision the package does not know.
    """
    import holidays

    try:
        lookup: Mapping[date, str] = holidays.country_holidays(country, subdiv=subdiv,
                                                               years=list(years) or None)
    except NotImplementedError as exc:
        raise ValueError(str(exc)) from exc
    return lookup


ALWAYS_OPEN: tuple[tuple[Span, ...], ...] = (((0, DAY_MINUTES),),) * 7
