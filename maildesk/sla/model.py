"""SLA policies and due times.

Targets are business time on the desk's calendar (maildesk/sla/calendar.py): "30m" and "4h"
are working minutes and hours; "2d" is two business days, i.e. the same working-clock
time two business days later (Monday 10:00 + 2d = Wednesday 10:00), which is what people
mean by "within two days" and does not depend on how long each day is. The timer planner
is maildesk/sla/planner.py, the wording of due times for mail maildesk/sla/wording.py, and
reading rules/sla.yaml and rules/calendar.yaml maildesk/sla/load.py (`load_sla`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from maildesk.sla.calendar import BusinessCalendar
from maildesk.types import OPEN_STATES, TicketStatus

ACTIVE = frozenset(OPEN_STATES) - {TicketStatus.PENDING}  # the clocks run only here
DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


class TimerKind(StrEnum):
    WARN_RESPONSE = "warn-response"
    WARN_RESOLUTION = "warn-resolution"
    BREACH_RESPONSE = "breach-response"
    BREACH_RESOLUTION = "breach-resolution"
    ESCALATE = "escalate"
    REMIND_AGENT = "remind-agent"
    REMIND_CUSTOMER = "remind-customer"
    AUTO_CLOSE = "auto-close"


# A warning or breach happens once per clock: if the due time later moves (a pause), a
# second warning right after the ticket resumes would only be noise.
ONCE_PER_TICKET = frozenset({TimerKind.WARN_RESPONSE, TimerKind.WARN_RESOLUTION,
                             TimerKind.BREACH_RESPONSE, TimerKind.BREACH_RESOLUTION})
KIND_ORDER = {kind: number for number, kind in enumerate(TimerKind)}


@dataclass(frozen=True, slots=True)
class BusinessDuration:
    """A target such as "4h", "30m", "2d" or "1d4h": whole business days, then time."""

    days: int = 0
    time: timedelta = timedelta(0)

    @classmethod
    def parse(cls, text: str) -> BusinessDuration:
        match = DURATION.match(text) if isinstance(text, str) else None
        if not match or not any(match.groups()):
            raise ValueError(f"{text!r} is not a duration like 30m, 4h, 2d or 1d4h")
        days, hours, minutes = (int(g or 0) for g in match.groups())
        duration = cls(days, timedelta(hours=hours, minutes=minutes))
        if not duration:
            raise ValueError(f"{text!r} is zero; leave the key out to switch it off")
        return duration

    def __bool__(self) -> bool:
        return bool(self.days or self.time)

    def after(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        """The instant this much business time after `start` (UTC)."""
        due = calendar.add_business_days(start, self.days) if self.days else start
        return calendar.add_business_time(due, self.time) if self.time else due

    def __str__(self) -> str:
        minutes = int(self.time.total_seconds() // 60)
        parts = [f"{self.days}d" if self.days else "", f"{minutes // 60}h" if minutes >= 60
                 else "", f"{minutes % 60}m" if minutes % 60 else ""]
        return "".join(parts) or "0m"


@dataclass(frozen=True, slots=True)
class Target:
    response: BusinessDuration
    resolution: BusinessDuration


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets per priority. Named policies fall back to the default one, per priority."""

    name: str
    targets: Mapping[str, Target] = field(hash=False)
    description: str = ""
    warn_at: float | None = None  # None: use SlaSettings.warn_at

    def target(self, priority: str) -> Target:
        """The priority's target; an unknown priority gets the least urgent one (P4)."""
        if priority in self.targets:
            return self.targets[priority]
        return self.targets[max(self.targets)]


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    """One escalation step per tier: 1 -> 2 -> 3, and at the top tier a step only notifies."""

    on_response_breach: bool = True
    on_resolution_breach: bool = True
    repeat_after: BusinessDuration | None = BusinessDuration(time=timedelta(hours=4))
    max_tier: int = 3
    notify: tuple[str, ...] = ("team-lead",)


@dataclass(frozen=True, slots=True)
class PendingSettings:
    """Tickets pending on the customer: remind them once, then close."""

    remind_customer_after: BusinessDuration | None = BusinessDuration(days=3)
    auto_close_after: BusinessDuration | None = BusinessDuration(days=7)


@dataclass(frozen=True, slots=True)
class SlaSettings:
    """rules/sla.yaml and rules/calendar.yaml, validated."""

    calendar: BusinessCalendar
    policies: Mapping[str, SlaPolicy] = field(hash=False)
    default_policy: str = "standard"
    warn_at: float | None = 0.8  # fraction of the target; None: no warnings
    escalation: EscalationSettings = EscalationSettings()
    pending: PendingSettings = PendingSettings()
    remind_agent_after: BusinessDuration | None = BusinessDuration(days=1)

    def policy(self, name: str | None) -> SlaPolicy:
        """The named policy, or the default one (also for a name no longer defined, so that
        a ticket created under a removed policy keeps running)."""
        return self.policies.get(name or self.default_policy, self.policies[self.default_policy])

    def due_times(self, policy: str | None, priority: str, created_at: datetime,
                  paused: timedelta = timedelta(0)) -> tuple[datetime, datetime]:
        """(response_due, resolution_due) from the calendar; `paused` is the total business
        time spent pending (Ticket.paused_seconds), which moves only the resolution."""
        chosen = self.policy(policy)
        response, _ = due_times(chosen, priority, created_at, self.calendar)
        return response, resolution_due_with_pause(chosen, priority, created_at, paused,
                                                   self.calendar)


# -- due times -----------------------------------------------------------------------------

def due_times(policy: SlaPolicy, priority: str, created_at: datetime,
              calendar: BusinessCalendar) -> tuple[datetime, datetime]:
    """(response_due, resolution_due) for a ticket created at `created_at`, in UTC."""
    target = policy.target(priority)
    return (target.response.after(created_at, calendar),
            target.resolution.after(created_at, calendar))


def paused_time(pending_since: datetime, resumed_at: datetime,
                calendar: BusinessCalendar) -> timedelta:
    """Business time a ticket spent pending on the customer (what Ticket.paused_seconds sums)."""
    return max(timedelta(0), calendar.business_time_between(pending_since, resumed_at))


def resolution_due_with_pause(policy: SlaPolicy, priority: str, created_at: datetime,
                              paused: timedelta, calendar: BusinessCalendar) -> datetime:
    """The resolution due time once `paused` business time has been spent pending.

    Recomputed from the creation time and the total pause rather than shifted step by
    step, so that it never drifts: call it with the new paused_seconds when a ticket
    leaves pending.
    """
    _, due = due_times(policy, priority, created_at, calendar)
    return calendar.add_business_time(due, paused)


def warn_time(start: datetime, due: datetime, fraction: float, paused: timedelta,
              calendar: BusinessCalendar) -> datetime:
    """When `fraction` of the running (unpaused) business time to `due` has passed.

    Counted back from the due time, so that a pause before the warning moves the
    warning with the due time.
    """
    target = calendar.business_time_between(start, due) - paused
    return calendar.add_business_time(due, -(target * (1 - fraction)))
