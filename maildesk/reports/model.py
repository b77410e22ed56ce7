"""What a report says, as frozen values: computed once by queries.py, drawn by render_*.

Durations are business seconds (floats, since a median of two values may fall between
them); rates are fractions 0..1; None means "no data", never zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

AGE_BUCKETS = ("<1d", "1-3d", "3-7d", ">7d")


@dataclass(frozen=True, slots=True)
class Period:
    """Tickets created in [start, end) (UTC) count; days are the desk's local days."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date
    timezone: str
    now: datetime
    queue: str | None = None
    brand: str | None = None


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class Volume:
    total: int
    by_day: tuple[Count, ...]
    by_type: tuple[Count, ...]
    by_queue: tuple[Count, ...]
    by_priority: tuple[Count, ...]
    by_channel: tuple[Count, ...]


@dataclass(frozen=True, slots=True)
class Durations:
    """Median and 90th percentile (continuous, as PostgreSQL's percentile_cont)."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class Reopens:
    resolved: int  # tickets resolved at least once
    reopened: int  # ... of which reopened at least once
    rate: float | None


@dataclass(frozen=True, slots=True)
class SlaFigures:
    with_due: int
    breached: int

    @property
    def compliance(self) -> float | None:
        return None if not self.with_due else 1 - self.breached / self.with_due


@dataclass(frozen=True, slots=True)
class SlaByPriority:
    priority: str
    response: SlaFigures
    resolution: SlaFigures


@dataclass(frozen=True, slots=True)
class Breach:
    ref: str
    subject: str
    priority: str
    kind: str  # response or resolution
    at: datetime


@dataclass(frozen=True, slots=True)
class Sla:
    response: SlaFigures
    resolution: SlaFigures
    by_priority: tuple[SlaByPriority, ...]
    recent_breaches: tuple[Breach, ...]


@dataclass(frozen=True, slots=True)
class BacklogRow:
    status: str
    counts: tuple[int, ...]  # one per AGE_BUCKETS

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Backlog:
    """Open work now (not at the end of the period: status history is not replayed)."""

    as_of: datetime
    rows: tuple[BacklogRow, ...]
    buckets: tuple[str, ...] = AGE_BUCKETS

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows)


@dataclass(frozen=True, slots=True)
class PersonRow:
    name: str
    handled: int
    resolved: int
    median_first_response: float | None
    satisfaction: float | None
    rated: int


@dataclass(frozen=True, slots=True)
class Agents:
    agents: tuple[PersonRow, ...]
    teams: tuple[PersonRow, ...]


@dataclass(frozen=True, slots=True)
class LowScore:
    ref: str
    score: int
    comment: str
    assignee: str | None


@dataclass(frozen=True, slots=True)
class Satisfaction:
    resolved: int
    rated: int
    average: float | None
    distribution: tuple[int, int, int, int, int]  # tickets scoring 1..5
    low_scores: tuple[LowScore, ...]

    @property
    def response_rate(self) -> float | None:
        return None if not self.resolved else self.rated / self.resolved


@dataclass(frozen=True, slots=True)
class Recurring:
    subjects: tuple[Count, ...]
    terms: tuple[Count, ...]
    tags: tuple[Count, ...]
    customers: tuple[Count, ...]


@dataclass(frozen=True, slots=True)
class TimeRow:
    key: str  # a queue, an agent's e-mail or a ticket type
    minutes: int
    entries: int


@dataclass(frozen=True, slots=True)
class TimeSpent:
    """Minutes agents logged in the period."""

    total_minutes: int = 0
    entries: int = 0
    by_queue: tuple[TimeRow, ...] = ()
    by_agent: tuple[TimeRow, ...] = ()
    by_type: tuple[TimeRow, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    volume: Volume
    first_response: Durations
    resolution: Durations
    reopens: Reopens
    sla: Sla
    backlog: Backlog
    agents: Agents
    satisfaction: Satisfaction
    recurring: Recurring
    time_spent: TimeSpent = TimeSpent()


def to_dict(report: Report) -> dict[str, Any]:
    """A JSON-ready dict; derived figures (compliance, totals, rates) are included."""
    data = _plain(asdict(report))
    sla, backlog, sat = report.sla, report.backlog, report.satisfaction
    for name in ("response", "resolution"):
        data["sla"][name]["compliance"] = getattr(sla, name).compliance
    for row, plain in zip(sla.by_priority, data["sla"]["by_priority"], strict=True):
        for name in ("response", "resolution"):
            plain[name]["compliance"] = getattr(row, name).compliance
    data["backlog"]["total"] = backlog.total
    for backlog_row, plain in zip(backlog.rows, data["backlog"]["rows"], strict=True):
        plain["total"] = backlog_row.total
    data["satisfaction"]["response_rate"] = sat.response_rate
    data["satisfaction"]["distribution"] = {str(i + 1): n for i, n in
                                            enumerate(sat.distribution)}
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
