"""SLA policies, due times and the pure timer planner.

Targets are business time on the desk's calendar (maildesk/sla/calendar.py): "30m" and "4h"
are working minutes and hours; "2d" is two business days, i.e. the same working-clock
time two business days later (Monday 10:00 + 2d = Wednesday 10:00), which is what people
mean by "within two days" and does not depend on how long each day is.

The planner, `plan_timers`, only says what is due: the scheduler applies each action and
records a TimerMark(ticket_id, kind, due_at) in the same transaction, so every action runs
once even with several daemons. For that the planner is deterministic: the same ticket
view, settings and `now` always give the same actions and keys, and nothing whose due time
is still in the future is planned. Reading rules/sla.yaml and rules/calendar.yaml lives in
maildesk/sla/load.py (`load_sla`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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


# -- planner -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TicketView:
    """What the planner needs to know about one ticket (built from a Ticket row)."""

    ticket_id: int
    status: TicketStatus
    priority: str
    created_at: datetime
    policy: str | None = None
    tier: int = 1
    escalation_level: int = 0
    assignee: str | None = None
    first_response_at: datetime | None = None
    response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None
    pending_since: datetime | None = None
    paused: timedelta = timedelta(0)  # Ticket.paused_seconds
    last_customer_activity_at: datetime | None = None
    last_agent_activity_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TimerAction:
    """One thing the scheduler should do now; (kind, due_at) is its idempotency key.

    `notify` names roles to tell: assignee, team, team-lead, customer. For escalate,
    `level` is the escalation level reached and `to_tier` the tier to move the ticket to
    (None at the top tier, where a step only notifies).
    """

    kind: TimerKind
    due_at: datetime
    notify: tuple[str, ...] = ()
    level: int = 0
    to_tier: int | None = None

    @property
    def key(self) -> tuple[str, datetime]:
        return (self.kind.value, self.due_at)


Done = Collection[tuple[str, datetime]]


def plan_timers(ticket: TicketView, settings: SlaSettings, now: datetime,
                done: Done = frozenset()) -> list[TimerAction]:
    """Every timer action due for `ticket` at `now` that is not in `done`, in due order.

    `done` holds the (kind, due_at) keys of the ticket's TimerMarks.
    """
    done = {(str(kind), _key_time(at)) for kind, at in done}
    kinds_done = {kind for kind, _ in done}
    candidates = [*_response_clock(ticket, settings, now),
                  *_resolution_clock(ticket, settings, now),
                  *_escalations(ticket, settings, now, done),
                  *_pending(ticket, settings, now),
                  *_agent_reminder(ticket, settings, now)]
    planned = [a for a in candidates if a.due_at <= now and a.key not in done
               and not (a.kind in ONCE_PER_TICKET and a.kind.value in kinds_done)]
    return sorted(planned, key=lambda a: (a.due_at, KIND_ORDER[a.kind], a.level))


def _action(kind: TimerKind, due: datetime, *notify: str) -> TimerAction:
    return TimerAction(kind, _key_time(due), notify)


def _key_time(at: datetime) -> datetime:
    """Keys are whole UTC seconds, so they compare equal after any database round trip."""
    return at.astimezone(UTC).replace(microsecond=0)


def _owner(ticket: TicketView) -> str:
    return "assignee" if ticket.assignee else "team"


def _warn_fraction(ticket: TicketView, settings: SlaSettings) -> float | None:
    policy = settings.policy(ticket.policy)
    return policy.warn_at if policy.warn_at is not None else settings.warn_at


def _response_breach(ticket: TicketView, now: datetime) -> datetime | None:
    """When the first-response clock breached, if it has by `now` (also a late answer)."""
    due = ticket.response_due_at
    if due is None or now < due:
        return None
    if ticket.first_response_at is None:
        return (ticket.response_breached_at or due) if ticket.status in ACTIVE else None
    return due if ticket.first_response_at >= due else None


def _resolution_breach(ticket: TicketView, now: datetime) -> datetime | None:
    if ticket.resolution_breached_at is not None:
        return ticket.resolution_breached_at
    due = ticket.resolution_due_at
    return due if due is not None and due <= now and ticket.status in ACTIVE else None


def _response_clock(ticket: TicketView, settings: SlaSettings, now: datetime) -> list[TimerAction]:
    due = ticket.response_due_at
    if due is None:
        return []
    actions = []
    breach = _response_breach(ticket, now)
    if breach is not None and ticket.response_breached_at is None:
        actions.append(_action(TimerKind.BREACH_RESPONSE, due, _owner(ticket), "team-lead"))
    fraction = _warn_fraction(ticket, settings)
    if fraction is not None and now < due and ticket.first_response_at is None \
            and ticket.status in ACTIVE:
        warn = warn_time(ticket.created_at, due, fraction, timedelta(0), settings.calendar)
        actions.append(_action(TimerKind.WARN_RESPONSE, warn, _owner(ticket)))
    return actions


def _resolution_clock(ticket: TicketView, settings: SlaSettings,
                      now: datetime) -> list[TimerAction]:
    due = ticket.resolution_due_at
    if due is None or ticket.status not in ACTIVE:  # pending pauses it, resolved stops it
        return []
    if now >= due:
        if ticket.resolution_breached_at is not None:
            return []
        return [_action(TimerKind.BREACH_RESOLUTION, due, _owner(ticket), "team-lead")]
    fraction = _warn_fraction(ticket, settings)
    if fraction is None:
        return []
    warn = warn_time(ticket.created_at, due, fraction, ticket.paused, settings.calendar)
    return [_action(TimerKind.WARN_RESOLUTION, warn, _owner(ticket))]


def _escalation_anchor(ticket: TicketView, settings: SlaSettings,
                       now: datetime) -> datetime | None:
    """The first enabled breach that still stands at `now`, which starts the steps."""
    rules = settings.escalation
    breaches = []
    response = _response_breach(ticket, now)
    if rules.on_response_breach and response is not None and ticket.first_response_at is None:
        breaches.append(response)
    resolution = _resolution_breach(ticket, now)
    if rules.on_resolution_breach and resolution is not None:
        breaches.append(resolution)
    return min(breaches) if breaches and ticket.status in ACTIVE else None


def _escalations(ticket: TicketView, settings: SlaSettings, now: datetime,
                 done: Done) -> list[TimerAction]:
    """Steps at the breach and every `repeat_after`, one per tier, while the breach stands.

    Tiers are projected from the ticket's current tier over the steps not yet done, so
    several steps due in one tick come out in order: to tier 2, to tier 3, notify only.
    """
    rules = settings.escalation
    step = _escalation_anchor(ticket, settings, now)
    actions: list[TimerAction] = []
    tier, level = ticket.tier, ticket.escalation_level
    for _ in range(rules.max_tier):
        if step is None or step > now:
            break
        due = _key_time(step)
        if (TimerKind.ESCALATE.value, due) not in done:
            moved = tier + 1 if tier < rules.max_tier else None
            tier, level = moved or tier, level + 1
            actions.append(TimerAction(TimerKind.ESCALATE, due, rules.notify, level, moved))
        if rules.repeat_after is None:
            break
        step = rules.repeat_after.after(step, settings.calendar)
    return actions


def _pending(ticket: TicketView, settings: SlaSettings, now: datetime) -> list[TimerAction]:
    if ticket.status != TicketStatus.PENDING or ticket.pending_since is None:
        return []
    rules, calendar = settings.pending, settings.calendar
    close = rules.auto_close_after.after(ticket.pending_since, calendar) \
        if rules.auto_close_after else None
    if close is not None and close <= now:  # a reminder just before closing is noise
        return [_action(TimerKind.AUTO_CLOSE, close, "customer")]
    if rules.remind_customer_after is None:
        return []
    remind = rules.remind_customer_after.after(ticket.pending_since, calendar)
    return [_action(TimerKind.REMIND_CUSTOMER, remind, "customer")]


def _agent_reminder(ticket: TicketView, settings: SlaSettings,
                    now: datetime) -> list[TimerAction]:
    """Remind the owner when the customer spoke last and nobody answered in time."""
    customer, agent = ticket.last_customer_activity_at, ticket.last_agent_activity_at
    if settings.remind_agent_after is None or ticket.status not in ACTIVE or customer is None:
        return []
    if agent is not None and agent >= customer:
        return []
    due = settings.remind_agent_after.after(customer, settings.calendar)
    return [_action(TimerKind.REMIND_AGENT, due, _owner(ticket))]



# -- wording for templates -----------------------------------------------------------------

EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")
ES_WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
ES_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
             "septiembre", "octubre", "noviembre", "diciembre")
# (singular, plural) per unit; Spanish has no locale dependency on purpose: the desk
# may run on a host with only C.UTF-8 installed.
UNITS = {
    "en": {"d": ("day", "days"), "h": ("hour", "hours"), "m": ("minute", "minutes")},
    "es": {"d": ("día", "días"), "h": ("hora", "horas"), "m": ("minuto", "minutos")},
}


def format_local(at: datetime, calendar: BusinessCalendar, language: str = "en") -> str:
    """'Monday 24 November, 13:00' / 'lunes 24 de noviembre, 13:00' in the desk's zone."""
    local = at.astimezone(calendar.timezone)
    clock = f"{local:%H:%M}"
    if language == "es":
        month = ES_MONTHS[local.month - 1]
        return f"{ES_WEEKDAYS[local.weekday()]} {local.day} de {month}, {clock}"
    return f"{EN_WEEKDAYS[local.weekday()]} {local.day} {EN_MONTHS[local.month - 1]}, {clock}"


def describe_duration(duration: BusinessDuration, language: str = "en") -> str:
    """'4 business hours', '2 días laborables', '1 hour and 30 minutes of business time'."""
    units = UNITS.get(language, UNITS["en"])
    minutes = int(duration.time.total_seconds() // 60)
    amounts = [(n, unit) for n, unit in ((duration.days, "d"), (minutes // 60, "h"),
                                         (minutes % 60, "m")) if n]
    words = [f"{n} {units[unit][n != 1]}" for n, unit in amounts]
    if language == "es":
        if len(words) == 1:
            return f"{words[0]} {'laborable' if amounts[0][0] == 1 else 'laborables'}"
        return f"{', '.join(words[:-1])} y {words[-1]} de tiempo laborable"
    if len(words) == 1:
        n, unit = amounts[0]
        return f"{n} business {units[unit][n != 1]}"
    return f"{', '.join(words[:-1])} and {words[-1]} of business time"


def describe_due(duration: BusinessDuration, due: datetime, calendar: BusinessCalendar,
                 language: str = "en") -> str:
    """'within 4 business hours (by Monday 24 November, 13:00)', or the Spanish wording."""
    when = format_local(due, calendar, language)
    if language == "es":
        return f"en un plazo de {describe_duration(duration, 'es')} (antes del {when})"
    return f"within {describe_duration(duration, 'en')} (by {when})"


def expected_first_response(settings: SlaSettings, policy: str | None, priority: str,
                            created_at: datetime, language: str = "en") -> str:
    """The acknowledgement's promise for a new ticket, e.g. in the ack template."""
    target = settings.policy(policy).target(priority).response
    due = target.after(created_at, settings.calendar)
    return describe_due(target, due, settings.calendar, language)
