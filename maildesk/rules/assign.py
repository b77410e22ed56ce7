"""Pure choice of an assignee from a team: round-robin, least-open or skill match.

The pipeline supplies open-ticket counts and the last assignee from the database; this
module only decides, so every strategy is testable with plain values. Inactive agents are
never chosen, and ties always go to the earlier member, so the answer is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from maildesk.rules.schema import Agent, RuleSet
from maildesk.types import Assignment


def choose_assignee(assignment: Assignment, team_members: Sequence[Agent],
                    open_counts: Mapping[str, int], last_assigned: str | None,
                    skills_wanted: Sequence[str] = ()) -> str | None:
    """The e-mail of the agent to assign, or None when nobody active can take it.

    A named agent wins when they are active (or unknown here, e.g. not in the team);
    otherwise the team's strategy picks among its active members.
    """
    named = _named(assignment, team_members)
    if named is not None:
        return named
    active = [agent for agent in team_members if agent.active]
    if not active:
        return None
    if assignment.strategy == "round-robin":
        return _round_robin(team_members, last_assigned)
    wanted = tuple(skills_wanted) or assignment.skills
    if assignment.strategy == "skill" and wanted:
        active = _best_skilled(active, wanted)
    return _least_open(active, open_counts)


def _named(assignment: Assignment, members: Sequence[Agent]) -> str | None:
    if not assignment.agent:
        return None
    agent = next((a for a in members if a.email == assignment.agent), None)
    if agent is None:
        return assignment.agent if not assignment.team else None
    return agent.email if agent.active else None


def _round_robin(members: Sequence[Agent], last: str | None) -> str | None:
    """The next active member after the last one assigned, wrapping around."""
    emails = [agent.email for agent in members]
    start = emails.index(last) + 1 if last in emails else 0
    for offset in range(len(members)):
        agent = members[(start + offset) % len(members)]
        if agent.active:
            return agent.email
    return None


def _least_open(agents: Sequence[Agent], open_counts: Mapping[str, int]) -> str:
    """Fewest open tickets; `min` keeps the first of equals, i.e. member order."""
    return min(agents, key=lambda agent: open_counts.get(agent.email, 0)).email


def _best_skilled(agents: Sequence[Agent], wanted: Sequence[str]) -> list[Agent]:
    """Agents with all wanted skills, else those with the most; everyone if nobody has any."""
    wanted_set = {skill.lower() for skill in wanted}
    score = {agent.email: len(wanted_set.intersection(agent.skills)) for agent in agents}
    best = max(score.values())
    return [agent for agent in agents if score[agent.email] == best] if best else list(agents)


def assignee_for(ruleset: RuleSet, assignment: Assignment, open_counts: Mapping[str, int],
                 last_assigned: str | None) -> str | None:
    """choose_assignee with members from the rule set; a named agent who is inactive
    falls back to the team (if any)."""
    members = ruleset.members(assignment.team) if assignment.team else ()
    if assignment.agent:
        agent = ruleset.agents.get(assignment.agent)
        if agent is not None and agent.active:
            return agent.email
        if not assignment.team:
            return None
    team_only = Assignment(team=assignment.team, strategy=assignment.strategy,
                           skills=assignment.skills)
    return choose_assignee(team_only, members, open_counts, last_assigned, assignment.skills)
