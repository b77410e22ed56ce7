"""rules/sla.yaml and rules/calendar.yaml -> SlaSettings, every problem located.

ruamel.yaml keeps the line and column of every key and value, so a problem reads
`rules/sla.yaml:12:14: policies.gold.P1.response: '4x' is not a duration ...`. Problems
are collected, not raised one by one, so an admin sees them all in one `maildesk check`.
A missing file means the built-in defaults, which match the skeleton's examples.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from maildesk.errors import ConfigError, Problem
from maildesk.sla.calendar import (
    ALWAYS_OPEN,
    WEEKDAYS,
    BusinessCalendar,
    Span,
    office_hours,
    parse_span,
    public_holidays,
)
from maildesk.sla.model import (
    BusinessDuration,
    EscalationSettings,
    PendingSettings,
    SlaPolicy,
    SlaSettings,
    Target,
)

SLA_FILE, CALENDAR_FILE = "sla.yaml", "calendar.yaml"
PRIORITY = re.compile(r"^P[1-9]$")
OFF = (None, False, "off", "none", "never")
DEFAULT_TARGETS = {"P1": ("1h", "4h"), "P2": ("2h", "1d"), "P3": ("4h", "3d"),
                   "P4": ("1d", "5d")}


class _Doc:
    """One YAML file's problems, located at a key or value of a ruamel node."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path, self.problems = path, problems

    def fail(self, node: Any, key: Any, dotted: str, message: str, *, at_key: bool = False) -> None:
        line, column = _position(node, key, at_key)
        self.problems.append(Problem(str(self.path), line, dotted, message, column))

    def mapping(self, node: Any, key: Any, dotted: str, known: set[str]) -> CommentedMap | None:
        """node[key] as a mapping with only `known` keys, or None after a problem."""
        value = node.get(key) if isinstance(node, dict) else None
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(node, key, dotted, "must be a mapping")
            return None
        for name in value:
            if name not in known:
                self.fail(value, name, f"{dotted}.{name}",
                          f"unknown key (known: {', '.join(sorted(known))})", at_key=True)
        return value  # type: ignore[return-value]

    def duration(self, node: Any, key: str, dotted: str,
                 default: BusinessDuration | None) -> BusinessDuration | None:
        """A duration, or None when switched off ("off", false, null)."""
        if not isinstance(node, dict) or key not in node:
            return default
        value = node[key]
        if value in OFF:
            return None
        try:
            return BusinessDuration.parse(value)
        except ValueError as exc:
            self.fail(node, key, dotted, str(exc))
            return default

    def boolean(self, node: Any, key: str, dotted: str, default: bool) -> bool:
        value = node.get(key, default) if isinstance(node, dict) else default
        if not isinstance(value, bool):
            self.fail(node, key, dotted, f"must be true or false, not {value!r}")
            return default
        return value


def _position(node: Any, key: Any, at_key: bool) -> tuple[int | None, int | None]:
    """1-based (line, column) of a mapping key or value, or a sequence item."""
    try:
        if isinstance(node, CommentedSeq):
            line, column = node.lc.item(key)
        elif isinstance(node, CommentedMap) and key in node:
            line, column = node.lc.key(key) if at_key else node.lc.value(key)
        else:
            line, column = node.lc.line, node.lc.col
    except (AttributeError, KeyError, IndexError, TypeError):
        return None, None
    return line + 1, column + 1


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    """The file's top mapping; {} when missing or empty; None after a problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CommentedMap()
    except OSError as exc:
        problems.append(Problem(str(path), None, "", f"cannot read: {exc.strerror}"))
        return None
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        problems.append(Problem(str(path), mark.line + 1 if mark else None, "",
                                f"not valid YAML: {exc.problem}",
                                mark.column + 1 if mark else None))
        return None
    except ValueError as exc:  # a scalar that looks like a date but is not one (2025-13-01)
        problems.append(Problem(str(path), None, "", f"not valid YAML: {exc}"))
        return None
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        problems.append(Problem(str(path), 1, "", "must be a mapping of keys", 1))
        return None
    return data


# -- calendar.yaml -----------------------------------------------------------------------

def _timezone(doc: _Doc, data: CommentedMap, default: str) -> ZoneInfo:
    name = data.get("timezone", default)
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        doc.fail(data, "timezone", "timezone", f"unknown time zone {name!r}")
        return ZoneInfo(default)


def _day_spans(doc: _Doc, node: CommentedMap, key: str) -> tuple[Span, ...]:
    """'09:00-14:00, 15:00-18:00', a list of those, or closed / [] / null."""
    value = node[key]
    if value in (None, "closed") or value == []:
        return ()
    texts = value.split(",") if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        doc.fail(node, key, f"hours.{key}", "must be like 09:00-18:00, a list of those, or closed")
        return ()
    try:
        spans = sorted(parse_span(t) for t in texts)
    except ValueError as exc:
        doc.fail(node, key, f"hours.{key}", str(exc))
        return ()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            doc.fail(node, key, f"hours.{key}", "working intervals overlap")
            return ()
    return tuple(spans)


def _hours(doc: _Doc, data: CommentedMap) -> tuple[tuple[Span, ...], ...]:
    """hours: 24x7, or a mapping of weekday -> intervals (`weekdays` = Monday to Friday)."""
    if "hours" not in data:
        return office_hours()
    if data["hours"] == "24x7":
        return ALWAYS_OPEN
    node = doc.mapping(data, "hours", "hours", {*WEEKDAYS, "weekdays"})
    if node is None:
        return office_hours()
    base = _day_spans(doc, node, "weekdays") if "weekdays" in node else ()
    days = [_day_spans(doc, node, day) if day in node else (base if n < 5 else ())
            for n, day in enumerate(WEEKDAYS)]
    if not any(days):
        doc.fail(data, "hours", "hours", "there are no working hours at all")
        return office_hours()
    return tuple(days)


ANNUAL = re.compile(r"^(?:--)?(\d{2})-(\d{2})$")  # MM-DD (ISO 8601 --MM-DD): every year


def _holidays(doc: _Doc, data: CommentedMap) -> tuple[dict[date, str],
                                                     dict[tuple[int, int], str]]:
    """A list of dates (2025-12-31) or yearly dates (12-24), each possibly with a name:
    {date: 12-24, name: Christmas Eve}. Returns (dated, yearly by (month, day))."""
    items = data.get("holidays") or []
    if not isinstance(items, list):
        doc.fail(data, "holidays", "holidays", "must be a list of dates")
        return {}, {}
    dated: dict[date, str] = {}
    yearly: dict[tuple[int, int], str] = {}
    for index, item in enumerate(items):
        value, name = (item.get("date"), str(item.get("name", ""))) \
            if isinstance(item, dict) else (item, "")
        day = _day(value)
        if isinstance(day, date):
            dated[day] = name or "holiday"
        elif day is not None:
            yearly[day] = name or "holiday"
        else:
            doc.fail(items, index, f"holidays[{index}]",
                     f"expected a date like 2025-12-25, or 12-24 for every year, got {value!r}")
    return dated, yearly


def _day(value: Any) -> date | tuple[int, int] | None:
    """A date, a (month, day) that comes back every year, or None if it is neither."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    match = ANNUAL.match(value.strip())
    if match is None:
        return None
    month, day = int(match.group(1)), int(match.group(2))
    try:
        date(2000, month, day)  # a leap year: 02-29 is a valid yearly date
    except ValueError:
        return None
    return month, day


def parse_calendar(doc: _Doc, data: CommentedMap, default_timezone: str) -> BusinessCalendar:
    known = {"timezone", "hours", "holidays", "country", "subdiv"}
    for key in data:
        if key not in known:
            doc.fail(data, key, str(key), f"unknown key (known: {', '.join(sorted(known))})",
                     at_key=True)
    country, subdiv = data.get("country"), data.get("subdiv")
    lookup = None
    if subdiv is not None and country is None:
        doc.fail(data, "subdiv", "subdiv", "needs a country")
    elif country is not None:
        this_year = date.today().year
        try:
            lookup = public_holidays(str(country), None if subdiv is None else str(subdiv),
                                     years=(this_year, this_year + 1))
        except ValueError as exc:
            doc.fail(data, "subdiv" if subdiv is not None else "country",
                     "subdiv" if subdiv is not None else "country", str(exc))
    dated, yearly = _holidays(doc, data)
    return BusinessCalendar(timezone=_timezone(doc, data, default_timezone),
                            hours=_hours(doc, data), holidays=dated, annual=yearly,
                            country=None if lookup is None else str(country),
                            subdiv=None if lookup is None or subdiv is None else str(subdiv),
                            country_holidays=lookup)


# -- sla.yaml ---------------------------------------------------------------------------

def _fraction(doc: _Doc, node: Any, key: str, dotted: str, default: float | None) -> float | None:
    """'80%' or 80 -> 0.8; off -> None (no warnings)."""
    if not isinstance(node, dict) or key not in node:
        return default
    value = node[key]
    if value in OFF:
        return None
    text = str(value).strip().removesuffix("%")
    try:
        percent = float(text)
    except ValueError:
        percent = -1.0
    if isinstance(value, bool) or not 0 < percent < 100:
        doc.fail(node, key, dotted, f"must be a percentage between 0% and 100%, like 80%, "
                                    f"not {value!r}")
        return default
    return percent / 100


def _target(doc: _Doc, node: Any, key: str, dotted: str) -> Target | None:
    if not isinstance(node[key], dict):
        doc.fail(node, key, dotted, "must be a mapping like {response: 1h, resolution: 1d}")
        return None
    value = doc.mapping(node, key, dotted, {"response", "resolution"})
    assert value is not None
    durations = []
    for name in ("response", "resolution"):
        if name not in value:
            doc.fail(node, key, dotted, f"missing {name}")
            return None
        durations.append(doc.duration(value, name, f"{dotted}.{name}", None))
    if None in durations:
        if all(value.get(n) in OFF for n in ("response", "resolution")):
            doc.fail(node, key, dotted, "targets cannot be switched off")
        return None
    return Target(*durations)  # type: ignore[arg-type]


def _policy(doc: _Doc, policies: Any, name: str,
            fallback: dict[str, Target]) -> SlaPolicy:
    dotted = f"policies.{name}"
    node = policies[name]
    if not isinstance(node, dict):
        doc.fail(policies, name, dotted, "must be a mapping of priorities (P1: ...)")
        return SlaPolicy(str(name), dict(fallback))
    targets = dict(fallback)
    for key in node:
        if key in ("description", "warn_at"):
            continue
        if not PRIORITY.match(str(key)):
            doc.fail(node, key, f"{dotted}.{key}", "unknown key (known: description, warn_at, "
                     "and priorities P1..P9)", at_key=True)
            continue
        target = _target(doc, node, key, f"{dotted}.{key}")
        if target is not None:
            targets[str(key)] = target
    if not targets:
        doc.fail(policies, name, dotted, "defines no priority targets", at_key=True)
        targets = _default_targets()
    return SlaPolicy(str(name), targets, str(node.get("description", "")),
                     _fraction(doc, node, "warn_at", f"{dotted}.warn_at", None))


def _default_targets() -> dict[str, Target]:
    return {p: Target(BusinessDuration.parse(r), BusinessDuration.parse(s))
            for p, (r, s) in DEFAULT_TARGETS.items()}


def _policies(doc: _Doc, data: CommentedMap) -> tuple[dict[str, SlaPolicy], str]:
    """Every policy; the default one first, so that the others fall back to its targets."""
    default = str(data.get("default_policy", "standard"))
    policies = data.get("policies")
    if policies is None:
        return {default: SlaPolicy(default, _default_targets())}, default
    if not isinstance(policies, dict) or not policies:
        doc.fail(data, "policies", "policies", "must be a mapping of policy names")
        return {default: SlaPolicy(default, _default_targets())}, default
    if default not in policies:
        where = "default_policy" if "default_policy" in data else "policies"
        doc.fail(data, where, where, f"the default policy {default!r} is not defined")
        return {default: SlaPolicy(default, _default_targets())}, default
    base = _policy(doc, policies, default, {})
    result = {default: base}
    for name in policies:
        if name != default:
            result[str(name)] = _policy(doc, policies, name, dict(base.targets))
    return result, default


def _escalation(doc: _Doc, data: CommentedMap) -> EscalationSettings:
    d = EscalationSettings()
    node = doc.mapping(data, "escalation", "escalation",
                       {"on_response_breach", "on_resolution_breach", "repeat_after",
                        "max_tier", "notify"})
    if node is None:
        return d
    max_tier = node.get("max_tier", d.max_tier)
    if isinstance(max_tier, bool) or not isinstance(max_tier, int) or not 1 <= max_tier <= 9:
        doc.fail(node, "max_tier", "escalation.max_tier", "must be a whole number from 1 to 9")
        max_tier = d.max_tier
    notify = node.get("notify", list(d.notify))
    if isinstance(notify, str):
        notify = [notify]
    if not isinstance(notify, list) or not all(isinstance(n, str) for n in notify):
        doc.fail(node, "notify", "escalation.notify", "must be a list of roles or addresses")
        notify = list(d.notify)
    return EscalationSettings(
        on_response_breach=doc.boolean(node, "on_response_breach",
                                       "escalation.on_response_breach", d.on_response_breach),
        on_resolution_breach=doc.boolean(node, "on_resolution_breach",
                                         "escalation.on_resolution_breach",
                                         d.on_resolution_breach),
        repeat_after=doc.duration(node, "repeat_after", "escalation.repeat_after",
                                  d.repeat_after),
        max_tier=max_tier, notify=tuple(notify))


def _pending(doc: _Doc, data: CommentedMap) -> PendingSettings:
    d = PendingSettings()
    node = doc.mapping(data, "pending", "pending", {"remind_customer_after", "auto_close_after"})
    return PendingSettings(
        remind_customer_after=doc.duration(node, "remind_customer_after",
                                           "pending.remind_customer_after",
                                           d.remind_customer_after),
        auto_close_after=doc.duration(node, "auto_close_after", "pending.auto_close_after",
                                      d.auto_close_after))


def parse_sla(doc: _Doc, data: CommentedMap, calendar: BusinessCalendar) -> SlaSettings:
    known = {"default_policy", "warn_at", "policies", "escalation", "pending", "agent_reminder"}
    for key in data:
        if key not in known:
            doc.fail(data, key, str(key), f"unknown key (known: {', '.join(sorted(known))})",
                     at_key=True)
    policies, default = _policies(doc, data)
    agent = doc.mapping(data, "agent_reminder", "agent_reminder", {"after"})
    return SlaSettings(
        calendar=calendar, policies=policies, default_policy=default,
        warn_at=_fraction(doc, data, "warn_at", "warn_at", 0.8),
        escalation=_escalation(doc, data), pending=_pending(doc, data),
        remind_agent_after=doc.duration(agent, "after", "agent_reminder.after",
                                        BusinessDuration(days=1)))


def read_sla(rules_dir: Path, default_timezone: str) -> SlaSettings:
    """Both files -> SlaSettings, or ConfigError with every problem in both."""
    problems: list[Problem] = []
    calendar_path, sla_path = rules_dir / CALENDAR_FILE, rules_dir / SLA_FILE
    calendar_data = _read_yaml(calendar_path, problems)
    sla_data = _read_yaml(sla_path, problems)
    calendar = BusinessCalendar(timezone=ZoneInfo(default_timezone))
    if calendar_data is not None:
        calendar = parse_calendar(_Doc(calendar_path, problems), calendar_data,
                                  default_timezone)
    settings = None
    if sla_data is not None:
        settings = parse_sla(_Doc(sla_path, problems), sla_data, calendar)
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def load_sla(rules_dir: Path, default_timezone: str) -> SlaSettings:
    """Read rules/sla.yaml and rules/calendar.yaml; raise ConfigError listing every problem.

    A missing file means the built-in defaults (the same as the shipped examples).
    """
    return read_sla(Path(rules_dir), default_timezone)
