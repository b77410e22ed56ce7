"""Number formatting shared by the renderers."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """Business time as hours and minutes ("27h 05m"); days would suggest 24-hour days."""
    if seconds is None:
        return "-"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def minutes(value: int) -> str:
    """Logged time, wall-clock: 75 -> "1h 15m", 30 -> "0h 30m"."""
    hours, rest = divmod(int(value), 60)
    return f"{hours}h {rest:02d}m"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


NONE_IN_BUSINESS_HOURS = "none yet within business hours"


def business_duration(seconds: float | None) -> str:
    """Like duration(), but zero says why: every minute fell outside business hours (an
    answer at night, before the business clock started), which "0m 00s" would hide."""
    if seconds is not None and round(seconds) == 0:
        return NONE_IN_BUSINESS_HOURS
    return duration(seconds)
