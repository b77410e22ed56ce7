"""The pure timer planner: what is due for one ticket at one moment.

`plan_timers` only says what is due: the scheduler applies each action and records a
TimerMark(ticket_id, kind, due_at) in the same transaction, so every action runs once even
with several daemons. For that the planner is deterministic: the same ticket view, settings
and `now` always give the same actions and keys, and nothing whose due time is still in the
future is planned.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from maildesk.sla.model import (
    ACTIVE,
    KIND_ORDER,
    ONCE_PER_TICKET,
    SlaSettings,
    TimerKind,
    warn_time,
)
from maildesk.types import TicketStatus


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
