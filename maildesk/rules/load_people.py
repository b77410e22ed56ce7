"""team.yaml (agents, teams), priority.yaml (impact × urgency) and customers.yaml (VIPs).

These are the non-rule files of rules/; rules refer to what they declare, so they are read
first and a rule naming an unknown agent, team or priority level is reported at the rule.
"""

from __future__ import annotations

from types import MappingProxyType

from maildesk.config.model import LANGUAGES
from maildesk.mail.addresses import normalise_address
from maildesk.rules.conditions import AddressSet
from maildesk.rules.load_when import Sources, address_set
from maildesk.rules.nodes import Node, Report
from maildesk.rules.schema import Agent, Priorities, Team

AGENT_KEYS = ("name", "email", "addresses", "language", "tier", "teams", "skills", "active")
TEAM_KEYS = ("name", "tier", "members", "lead")
TIERS = range(1, 4)


def read_team(node: Node | None, report: Report) -> tuple[dict[str, Agent], dict[str, Team]]:
    """Agents by primary e-mail and teams by name; team members include agents' `teams`."""
    if node is None:
        return {}, {}
    if not report.mapping(node, ("agents", "teams")):
        return {}, {}
    agents = _agents(node.child("agents"), report) if "agents" in node.value else {}
    declared = _teams(node.child("teams"), report, agents) if "teams" in node.value else {}
    _check_agent_teams(node, agents, declared, report)
    return agents, _with_members(declared, agents)


def _agents(node: Node, report: Report) -> dict[str, Agent]:
    agents: dict[str, Agent] = {}
    taken: set[str] = set()
    for item in _list(node, report):
        agent = _agent(item, report)
        if agent is None:
            continue
        clash = taken.intersection(agent.addresses)
        if clash:
            report.fail(item, f"address {sorted(clash)[0]} belongs to another agent too")
            continue
        taken.update(agent.addresses)
        agents[agent.email] = agent
    return agents


def _list(node: Node, report: Report) -> list[Node]:
    if not node.is_list():
        report.wrong(node, "a list")
        return []
    return node.items()


def _agent(node: Node, report: Report) -> Agent | None:
    if not report.mapping(node, AGENT_KEYS):
        return None
    before = len(report.problems)
    name = report.text(node.child("name")) if "name" in node.value else None
    if name is None and "name" not in node.value:
        report.fail(node, "an agent needs a name:")
    addresses = _addresses(node, report)
    language = _choice(node, "language", LANGUAGES, report) or "en"
    tier = report.integer(node.child("tier"), TIERS) if "tier" in node.value else 1
    teams = _texts(node, "teams", report)
    skills = tuple(s.lower() for s in _texts(node, "skills", report))
    active = report.boolean(node.child("active")) if "active" in node.value else True
    if len(report.problems) > before or name is None or not addresses:
        return None
    return Agent(name, addresses[0], addresses, language, tier or 1, teams, skills,
                 bool(active))


def _addresses(node: Node, report: Report) -> tuple[str, ...]:
    found = [normalise_address(text) for key in ("email", "addresses") if key in node.value
             for text, _ in report.texts(node.child(key))]
    for text in found:
        if text.count("@") != 1 or " " in text:
            report.fail(node, f"not an e-mail address: {text!r}")
    if not found:
        report.fail(node, "an agent needs email: (or addresses:)")
    return tuple(dict.fromkeys(found))


def _texts(node: Node, key: str, report: Report) -> tuple[str, ...]:
    return tuple(t for t, _ in report.texts(node.child(key))) if key in node.value else ()


def _choice(node: Node, key: str, allowed: tuple[str, ...], report: Report) -> str | None:
    if key not in node.value:
        return None
    value = node.child(key)
    if value.value not in allowed:
        report.wrong(value, " or ".join(allowed))
        return None
    return str(value.value)


def _teams(node: Node, report: Report, agents: dict[str, Agent]) -> dict[str, Team]:
    teams: dict[str, Team] = {}
    for item in _list(node, report):
        team = _team(item, report, agents)
        if team is not None and team.name in teams:
            report.fail(item, f"team {team.name!r} is declared twice")
        elif team is not None:
            teams[team.name] = team
    return teams


def _team(node: Node, report: Report, agents: dict[str, Agent]) -> Team | None:
    if not report.mapping(node, TEAM_KEYS):
        return None
    if "name" not in node.value:
        report.fail(node, "a team needs a name:")
        return None
    name = report.text(node.child("name"))
    tier = report.integer(node.child("tier"), TIERS) if "tier" in node.value else 1
    members = []
    if "members" in node.value:
        for text, item in report.texts(node.child("members")):
            members.append(agent_ref(text, item, agents, report))
    lead = None
    if "lead" in node.value:
        lead_name = report.text(node.child("lead"))
        lead = lead_name and agent_ref(lead_name, node.child("lead"), agents, report)
    if name is None or tier is None:
        return None
    return Team(name, tier, tuple(m for m in members if m), lead or None)


def agent_ref(text: str, node: Node, agents: dict[str, Agent], report: Report) -> str | None:
    """An agent named by any of their addresses or by name; the primary e-mail, or None."""
    wanted = normalise_address(text)
    for agent in agents.values():
        if wanted in agent.addresses or wanted == agent.name.lower():
            return agent.email
    known = ", ".join(sorted(agents)) or "none declared in team.yaml"
    report.fail(node, f"unknown agent {text!r} (known: {known})")
    return None


def _check_agent_teams(node: Node, agents: dict[str, Agent], teams: dict[str, Team],
                       report: Report) -> None:
    items = node.child("agents").items() if node.child("agents").is_list() else []
    for item in items:
        if not item.is_map() or "teams" not in item.value:
            continue
        for text, where in report.texts(item.child("teams")):
            if text not in teams:
                report.fail(where, f"unknown team {text!r} (declare it under teams:)")


def _with_members(teams: dict[str, Team], agents: dict[str, Agent]) -> dict[str, Team]:
    """Explicit members first, then agents whose `teams` name the team, in file order."""
    out = {}
    for team in teams.values():
        derived = [a.email for a in agents.values() if team.name in a.teams]
        members = tuple(dict.fromkeys([*team.members, *derived]))
        out[team.name] = Team(team.name, team.tier, members, team.lead)
    return out


def read_priorities(node: Node | None, report: Report) -> Priorities:
    """levels, default {impact, urgency} and matrix: impact -> urgency -> level."""
    if node is None:
        return Priorities()
    if not report.mapping(node, ("levels", "default", "matrix")):
        return Priorities()
    levels = _levels(node, report)
    matrix = _matrix(node.child("matrix"), levels, report) if "matrix" in node.value else None
    if not matrix:
        if "matrix" not in node.value or matrix == {}:
            report.fail(node, "priority.yaml needs matrix: (impact -> urgency -> level)")
        return Priorities()
    impact, urgency = _defaults(node, matrix, report)
    return Priorities(levels, MappingProxyType(matrix), impact, urgency)


def _levels(node: Node, report: Report) -> tuple[str, ...]:
    if "levels" not in node.value:
        return Priorities().levels
    levels = []
    for item in _list(node.child("levels"), report):
        value = item.child("name") if item.is_map() and "name" in item.value else item
        if item.is_map():
            report.unknown_keys(item, ("name", "description"))
        text = report.text(value)
        if text:
            levels.append(text)
    return tuple(levels)


def _matrix(node: Node, levels: tuple[str, ...],
            report: Report) -> dict[tuple[str, str], str] | None:
    if not node.is_map():
        report.wrong(node, "a mapping impact -> {urgency: level}")
        return None
    matrix: dict[tuple[str, str], str] = {}
    columns: set[str] | None = None
    for impact, row in node.entries():
        if not row.is_map():
            report.wrong(row, "a mapping urgency -> level")
            continue
        if columns is not None and set(map(str, row.value)) != columns:
            report.fail(row, f"every row needs the same urgencies: {', '.join(sorted(columns))}")
        columns = columns or set(map(str, row.value))
        for urgency, cell in row.entries():
            if cell.value not in levels:
                report.fail(cell, f"unknown priority level {cell.value!r} "
                                  f"(levels: {', '.join(levels)})")
            matrix[(impact, urgency)] = str(cell.value)
    return matrix


def _defaults(node: Node, matrix: dict[tuple[str, str], str],
              report: Report) -> tuple[str, str]:
    impacts = tuple(dict.fromkeys(i for i, _ in matrix))
    urgencies = tuple(dict.fromkeys(u for _, u in matrix))
    impact = "medium" if "medium" in impacts else impacts[0]
    urgency = "medium" if "medium" in urgencies else urgencies[0]
    if "default" not in node.value:
        return impact, urgency
    default = node.child("default")
    if not report.mapping(default, ("impact", "urgency")):
        return impact, urgency
    return (_choice(default, "impact", impacts, report) or impact,
            _choice(default, "urgency", urgencies, report) or urgency)


def read_customers(node: Node | None, report: Report, sources: Sources) -> AddressSet:
    """customers.yaml: `vip:` addresses or domains, inline or `{file: vip.txt}`."""
    if node is None or not report.mapping(node, ("vip",)) or "vip" not in node.value:
        return AddressSet()
    return address_set(node.child("vip"), report, sources) or AddressSet()
