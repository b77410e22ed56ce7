"""Assignment strategies: pure choices over team members, open counts and the last assignee."""

from __future__ import annotations

from maildesk.rules import Agent, RuleSet, Team, assignee_for, choose_assignee
from maildesk.types import Assignment

ANA = Agent("Ana", "ana@x", ("ana@x",), skills=("billing",))
BRUNO = Agent("Bruno", "bruno@x", ("bruno@x",), skills=("linux", "billing"))
CARLA = Agent("Carla", "carla@x", ("carla@x",), skills=("linux",))
DANI = Agent("Dani", "dani@x", ("dani@x",), active=False, skills=("linux", "billing"))
TEAM = (ANA, BRUNO, DANI, CARLA)


def pick(strategy: str, counts: dict[str, int] | None = None, last: str | None = None,
         skills: tuple[str, ...] = (), members: tuple[Agent, ...] = TEAM) -> str | None:
    return choose_assignee(Assignment(team="t", strategy=strategy), members, counts or {},
                           last, skills)


def test_round_robin_walks_member_order_skipping_inactive() -> None:
    assert pick("round-robin") == "ana@x"
    assert pick("round-robin", last="ana@x") == "bruno@x"
    assert pick("round-robin", last="bruno@x") == "carla@x"  # dani is inactive
    assert pick("round-robin", last="carla@x") == "ana@x"  # wraps
    assert pick("round-robin", last="gone@x") == "ana@x"


def test_least_open_with_ties_by_member_order() -> None:
    assert pick("least-open", {"ana@x": 3, "bruno@x": 1, "carla@x": 1}) == "bruno@x"
    assert pick("least-open", {"ana@x": 2, "bruno@x": 2, "carla@x": 2}) == "ana@x"
    assert pick("least-open", {"ana@x": 2, "bruno@x": 2, "dani@x": 0, "carla@x": 3}) == "ana@x"


def test_skill_match_all_then_most_then_everyone() -> None:
    counts = {"ana@x": 0, "bruno@x": 5, "carla@x": 1}
    assert pick("skill", counts, skills=("linux", "billing")) == "bruno@x"  # only one has both
    assert pick("skill", counts, skills=("linux",)) == "carla@x"  # bruno and carla; fewer open
    assert pick("skill", counts, skills=("cobol",)) == "ana@x"  # nobody: least-open
    assert choose_assignee(Assignment(team="t", strategy="skill", skills=("linux",)), TEAM,
                           counts, None, ()) == "carla@x"  # skills from the assignment


def test_no_active_member_means_nobody() -> None:
    assert pick("least-open", members=(DANI,)) is None
    assert pick("round-robin", members=()) is None


def test_named_agent() -> None:
    assert choose_assignee(Assignment(agent="carla@x"), TEAM, {}, None, ()) == "carla@x"
    assert choose_assignee(Assignment(agent="dani@x", team="t", strategy="least-open"), TEAM,
                           {"ana@x": 1}, None, ()) == "bruno@x"


def test_assignee_for_uses_the_rule_set() -> None:
    ruleset = RuleSet(agents={a.email: a for a in TEAM},
                      teams={"t": Team("t", 1, tuple(a.email for a in TEAM))})
    assert assignee_for(ruleset, Assignment(team="t", strategy="round-robin"), {}, "ana@x") \
        == "bruno@x"
    assert assignee_for(ruleset, Assignment(agent="dani@x", team="t", strategy="least-open"),
                        {"ana@x": 4, "bruno@x": 4, "carla@x": 1}, None) == "carla@x"
    assert assignee_for(ruleset, Assignment(agent="dani@x"), {}, None) is None
    assert assignee_for(ruleset, Assignment(agent="ana@x"), {}, None) == "ana@x"
