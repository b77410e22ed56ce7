"""What rule evaluation needs besides the mail: the clock, the desk and the customer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What evaluation needs besides the mail; `now` must be timezone-aware.

    `in_business_hours` is the SLA calendar's predicate; without it business hours are
    Monday to Friday, 09:00-18:00 in `timezone`.
    """

    now: datetime
    timezone: str = "UTC"
    desk_addresses: tuple[str, ...] = ()
    customer_organisation: str | None = None
    customer_vip: bool = False
    is_follow_up: bool = False
    in_business_hours: Callable[[datetime], bool] | None = None
