"""The compiled rule set: frozen values built once by load.py and read by evaluate.py.

Nothing here touches YAML or the disk; a RuleSet is a plain value that the daemon swaps
atomically on reload, and tests can build by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from maildesk.mail.addresses import normalise_address
from maildesk.rules.conditions import AddressSet, Condition
from maildesk.rules.context import RuleContext  # noqa: F401 - part of the schema's face
from maildesk.types import Assignment, TicketType

STRATEGIES = ("round-robin", "least-open", "skill")


def _empty() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Agent:
    """A person who answers tickets; `email` is the primary address, `addresses` all of them."""

    name: str
    email: str
    addresses: tuple[str, ...] = ()
    language: str = "en"
    tier: int = 1
    teams: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    active: bool = True


@dataclass(frozen=True, slots=True)
class Team:
    """A group of agents; `members` are agent e-mails in the order round-robin walks them."""

    name: str
    tier: int = 1
    members: tuple[str, ...] = ()
    lead: str | None = None


@dataclass(frozen=True, slots=True)
class Priorities:
    """ITIL-style priority: a level looked up from impact × urgency, P1 being the highest."""

    levels: tuple[str, ...] = ("P1", "P2", "P3", "P4")
    matrix: Mapping[tuple[str, str], str] = field(default_factory=lambda: _DEFAULT_MATRIX)
    default_impact: str = "medium"
    default_urgency: str = "medium"

    @property
    def impacts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(impact for impact, _ in self.matrix))

    @property
    def urgencies(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(urgency for _, urgency in self.matrix))

    def level(self, impact: str | None, urgency: str | None) -> str | None:
        """The level for a pair, the defaults standing in for a value no rule set."""
        key = (impact or self.default_impact, urgency or self.default_urgency)
        return self.matrix.get(key)


_DEFAULT_MATRIX: Mapping[tuple[str, str], str] = MappingProxyType({
    ("high", "high"): "P1", ("high", "medium"): "P2", ("high", "low"): "P3",
    ("medium", "high"): "P2", ("medium", "medium"): "P3", ("medium", "low"): "P4",
    ("low", "high"): "P3", ("low", "medium"): "P4", ("low", "low"): "P4",
})


@dataclass(frozen=True, slots=True)
class Actions:
    """What a rule sets when it matches; None (or empty) means the rule leaves it alone."""

    type: TicketType | None = None
    impact: str | None = None
    urgency: str | None = None
    priority: str | None = None
    queue: str | None = None
    tags: tuple[str, ...] = ()
    assign: Assignment | None = None
    watchers: tuple[str, ...] = ()
    ack_template: str | None = None
    language: str | None = None
    spam: bool | None = None
    escalate: bool | None = None
    sla: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    file: str  # file name inside rules/, e.g. "50-outages.yaml"
    line: int
    when: Condition
    then: Actions
    stop: bool = False


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every rule in file-name order, plus the agents, teams and priority matrix they use."""

    rules: tuple[Rule, ...] = ()
    agents: Mapping[str, Agent] = field(default_factory=_empty)  # by primary e-mail
    teams: Mapping[str, Team] = field(default_factory=_empty)  # by name
    priorities: Priorities = field(default_factory=Priorities)
    vip: AddressSet = field(default_factory=AddressSet)
    files: Mapping[str, int] = field(default_factory=_empty)  # every file read -> st_mtime_ns, for changed()

    def agent_for(self, email: str) -> Agent | None:
        """The agent owning `email` as any of their addresses, case-insensitively."""
        wanted = normalise_address(email)
        for agent in self.agents.values():
            if wanted in agent.addresses:
                return agent
        return None

    def team(self, name: str) -> Team | None:
        return self.teams.get(name)

    def members(self, team: str) -> tuple[Agent, ...]:
        """The team's agents in member order (inactive ones included; assign skips them)."""
        found = self.teams.get(team)
        if found is None:
            return ()
        return tuple(self.agents[email] for email in found.members if email in self.agents)

    def next_tier_team(self, tier: int) -> Team | None:
        """The team to escalate to from `tier`: the lowest tier above it, first declared."""
        above = [team for team in self.teams.values() if team.tier > tier]
        return min(above, key=lambda team: team.tier) if above else None
