"""`then:` YAML -> Actions, checking every name against what is declared.

Agents, teams and priority levels come from team.yaml and priority.yaml; template and
SLA policy names are checked only when the caller passes the known sets, since those
files belong to other modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from maildesk.config.model import LANGUAGES
from maildesk.mail.addresses import normalise_address
from maildesk.rules.load_people import agent_ref
from maildesk.rules.nodes import Node, Report
from maildesk.rules.schema import STRATEGIES, Actions, Agent, Priorities, Team
from maildesk.types import Assignment, TicketType

THEN_KEYS = ("type", "impact", "urgency", "priority", "queue", "tags", "assign", "watchers",
             "ack_template", "language", "spam", "escalate", "sla", "stop")
ASSIGN_KEYS = ("agent", "team", "strategy", "skills")
NO_ACK = "none"


@dataclass(frozen=True, slots=True)
class Known:
    """Names an action may refer to."""

    agents: Mapping[str, Agent]
    teams: Mapping[str, Team]
    priorities: Priorities
    templates: set[str] | None = None
    sla_policies: set[str] | None = None


def read_then(node: Node, report: Report, known: Known) -> tuple[Actions | None, bool]:
    """The rule's actions and whether `then` said `stop: true`."""
    if not report.mapping(node, THEN_KEYS):
        return None, False
    before = len(report.problems)
    value, child = node.value, node.child
    if "priority" in value and ("impact" in value or "urgency" in value):
        report.fail(node.child("priority"), "set either priority or impact/urgency, not both")
    fields = {key: READERS[key](child(key), report, known) for key in READERS if key in value}
    stop = "stop" in value and report.boolean(child("stop")) is True
    if len(report.problems) > before:
        return None, stop
    return Actions(**fields), stop


def _one_of(allowed: tuple[str, ...], what: str):
    def read(node: Node, report: Report, known: Known) -> str | None:
        if node.value in allowed:
            return str(node.value)
        report.wrong(node, f"{what}: " + ", ".join(allowed))
        return None
    return read


def _impact(node: Node, report: Report, known: Known) -> str | None:
    return _one_of(known.priorities.impacts, "an impact from priority.yaml")(node, report, known)


def _urgency(node: Node, report: Report, known: Known) -> str | None:
    return _one_of(known.priorities.urgencies, "an urgency from priority.yaml")(
        node, report, known)


def _priority(node: Node, report: Report, known: Known) -> str | None:
    levels = known.priorities.levels
    if node.value in levels:
        return str(node.value)
    report.fail(node, f"unknown priority level {node.value!r} (levels: {', '.join(levels)})")
    return None


def _type(node: Node, report: Report, known: Known) -> TicketType | None:
    found = _one_of(tuple(TicketType), "a ticket type")(node, report, known)
    return None if found is None else TicketType(found)


def _text(node: Node, report: Report, known: Known) -> str | None:
    return report.text(node)


def _tags(node: Node, report: Report, known: Known) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text for text, _ in report.texts(node)))


def _flag(node: Node, report: Report, known: Known) -> bool | None:
    return report.boolean(node)


def _template(node: Node, report: Report, known: Known) -> str | None:
    name = report.text(node)
    if name and name != NO_ACK and known.templates is not None and name not in known.templates:
        choices = ", ".join(sorted(known.templates | {NO_ACK}))
        report.fail(node, f"unknown template {name!r} (known: {choices})")
    return name


def _sla(node: Node, report: Report, known: Known) -> str | None:
    name = report.text(node)
    if name and known.sla_policies is not None and name not in known.sla_policies:
        report.fail(node, f"unknown SLA policy {name!r} (known: "
                          f"{', '.join(sorted(known.sla_policies)) or 'none'})")
    return name


def _watchers(node: Node, report: Report, known: Known) -> tuple[str, ...]:
    """Agents by name or address, or any outside e-mail address (a manager, say)."""
    found = []
    for text, item in report.texts(node):
        if "@" in text and text.count("@") == 1 and " " not in text.strip():
            found.append(normalise_address(text))
        else:
            found.append(agent_ref(text, item, dict(known.agents), report) or "")
    return tuple(dict.fromkeys(f for f in found if f))


def _assign(node: Node, report: Report, known: Known) -> Assignment | None:
    """`{team: l2, strategy: least-open}`, `{agent: ana@...}`, or a bare agent/team name."""
    if isinstance(node.value, str):
        if node.value in known.teams:
            return Assignment(team=node.value)
        agent = agent_ref(node.value, node, dict(known.agents), report)
        return None if agent is None else Assignment(agent=agent)
    if not report.mapping(node, ASSIGN_KEYS):
        return None
    if "agent" not in node.value and "team" not in node.value:
        report.fail(node, "give agent: or team:")
        return None
    agent = _assign_agent(node, report, known)
    team = _assign_team(node, report, known)
    skills = tuple(s.lower() for s, _ in report.texts(node.child("skills"))) \
        if "skills" in node.value else ()
    strategy = _strategy(node, report, default="skill" if skills else "round-robin")
    return Assignment(agent=agent, team=team, strategy=strategy or "round-robin", skills=skills)


def _assign_agent(node: Node, report: Report, known: Known) -> str | None:
    if "agent" not in node.value:
        return None
    name = report.text(node.child("agent"))
    return name and agent_ref(name, node.child("agent"), dict(known.agents), report)


def _assign_team(node: Node, report: Report, known: Known) -> str | None:
    if "team" not in node.value:
        return None
    name = report.text(node.child("team"))
    if name and name not in known.teams:
        known_teams = ", ".join(known.teams) or "none declared in team.yaml"
        report.fail(node.child("team"), f"unknown team {name!r} (known: {known_teams})")
    return name


def _strategy(node: Node, report: Report, default: str) -> str | None:
    if "strategy" not in node.value:
        return default
    value = node.child("strategy")
    if value.value == "skill-match":
        return "skill"
    if value.value in STRATEGIES:
        return str(value.value)
    report.wrong(value, "a strategy: " + ", ".join((*STRATEGIES, "skill-match")))
    return None


READERS = {
    "type": _type, "impact": _impact, "urgency": _urgency, "priority": _priority,
    "queue": _text, "tags": _tags, "assign": _assign, "watchers": _watchers,
    "ack_template": _template, "language": _one_of(LANGUAGES, "a language"),
    "spam": _flag, "escalate": _flag, "sla": _sla,
}
