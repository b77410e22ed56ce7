"""A Decision shown to people (`maildesk rules test`) and as JSON (`--json`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from maildesk.rules.evaluate import describe_assignment
from maildesk.types import Decision

_FIELDS = ("type", "priority", "impact", "urgency", "queue", "tags", "assign", "watchers",
           "ack_template", "language", "spam", "escalate", "sla")


def decision_to_dict(decision: Decision) -> dict[str, Any]:
    """Plain JSON-able values: enums as strings, tuples as lists, hits as objects."""
    data = asdict(decision)
    data["type"] = str(decision.type) if decision.type else None
    return _lists(data)


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    return value


def render_decision(decision: Decision) -> str:
    """Which rules matched, why, what each set, then the resulting decision."""
    lines = [_hits_header(decision)]
    for number, hit in enumerate(decision.hits, start=1):
        lines.append(f"  {number}. {hit.rule}  ({hit.file}:{hit.line})")
        lines.extend(f"       when  {reason}" for reason in hit.matched or ("(always)",))
        lines.extend(f"       set   {action}" for action in hit.actions)
    lines.append("Decision:")
    lines.extend(f"  {name:<13}{value}" for name, value in _decided(decision))
    return "\n".join(lines)


def _hits_header(decision: Decision) -> str:
    count = len(decision.hits)
    if not count:
        return "No rule matched."
    return f"{count} rule{'s' if count != 1 else ''} matched, in order:"


def _decided(decision: Decision) -> list[tuple[str, str]]:
    out = []
    for name in _FIELDS:
        value = getattr(decision, name)
        if value in (None, (), False):
            continue
        if name == "assign":
            value = describe_assignment(value)
        elif isinstance(value, tuple):
            value = ", ".join(value)
        elif value is True:
            value = "yes"
        out.append((name, str(value)))
    return out or [("(nothing)", "defaults apply")]
