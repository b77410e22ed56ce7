"""Loading rules/: the canonical files, the examples, and every kind of error located."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildesk.errors import ConfigError
from maildesk.rules import load_ruleset
from maildesk.types import Assignment, TicketType

REPO = Path(__file__).resolve().parents[2]
OUTAGES = """\
- name: outages are urgent incidents
  when:
    any:
      - subject: {contains: ["caído", "outage", "no funciona"]}
      - body: {regex: "(?i)servidor .* (ca[ií]do|down)"}
  then:
    type: incident
    impact: high
    urgency: high
    queue: infrastructure
    tags: [outage]
    assign: {team: l2, strategy: least-open}
  stop: true
"""
TEAM = """\
agents:
  - {name: Ana García, email: ana@example.com, language: es, tier: 1, teams: [l1]}
  - {name: Bruno Díaz, email: bruno@example.com, language: es, tier: 2, teams: [l2]}
teams:
  - {name: l1, tier: 1}
  - {name: l2, tier: 2}
"""


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    for name, text in files.items():
        (rules / name).write_text(text, encoding="utf-8")
    return rules


def problems(rules: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_ruleset(rules, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def test_the_two_canonical_files_load_exactly_as_written(tmp_path: Path) -> None:
    ruleset = load_ruleset(write(tmp_path, {"50-outages.yaml": OUTAGES, "team.yaml": TEAM}))
    (rule,) = ruleset.rules
    assert (rule.name, rule.file, rule.line, rule.stop) == (
        "outages are urgent incidents", "50-outages.yaml", 1, True)
    assert rule.then.type is TicketType.INCIDENT
    assert (rule.then.impact, rule.then.urgency, rule.then.queue) == ("high", "high",
                                                                      "infrastructure")
    assert rule.then.assign == Assignment(team="l2", strategy="least-open")
    assert ruleset.team("l2").members == ("bruno@example.com",)
    assert ruleset.agent_for("ANA@Example.com").name == "Ana García"
    assert ruleset.next_tier_team(1).name == "l2"
    assert ruleset.next_tier_team(2) is None


def test_example_sets_load_and_match() -> None:
    ruleset = load_ruleset(REPO / "rules", templates={"ack", "ack-out-of-hours"})
    assert [r.file for r in ruleset.rules] == sorted(r.file for r in ruleset.rules)
    assert ruleset.rules[-1].name == "outages are urgent incidents"
    assert ruleset.next_tier_team(2).name == "l3"
    assert ruleset.priorities.level("high", "high") == "P1"
    assert ruleset.vip.has("ceo@acme.example")


def test_sla_and_calendar_files_are_not_rules(tmp_path: Path) -> None:
    rules = write(tmp_path, {"sla.yaml": "policies: {gold: {}}\n",
                             "calendar.yaml": "timezone: Europe/Madrid\n",
                             "10-a.yaml": "- {name: a, when: {}, then: {queue: q}}\n"})
    ruleset = load_ruleset(rules)
    assert [r.name for r in ruleset.rules] == ["a"]
    assert not any(name.endswith(("sla.yaml", "calendar.yaml")) for name in ruleset.files)


def test_files_apply_in_name_order_and_record_mtimes(tmp_path: Path) -> None:
    rules = write(tmp_path, {"20-b.yaml": "- {name: b, when: {}, then: {queue: b}}\n",
                             "10-a.yaml": "- {name: a, when: {}, then: {queue: a}}\n",
                             "empty.yml": ""})
    ruleset = load_ruleset(rules)
    assert [r.name for r in ruleset.rules] == ["a", "b"]
    assert set(ruleset.files) == {str(rules / n) for n in ("10-a.yaml", "20-b.yaml", "empty.yml")}


def test_disabled_rule_is_skipped(tmp_path: Path) -> None:
    rules = write(tmp_path, {"r.yaml": "- {name: a, enabled: false, when: {}, then: {}}\n"})
    assert load_ruleset(rules).rules == ()


def test_missing_directory(tmp_path: Path) -> None:
    assert "does not exist" in problems(tmp_path / "nope")[0]


# --- every error kind, with file:line:column and the rule's name -------------------------

BROKEN = """\
- name: first
  when:
    subject: {contians: "x"}
  then:
    queue: q
- name: second
  when:
    body: {regex: "(unclosed"}
  then:
    priority: P9
- name: third
  when:
    from: 42
  then:
    assign: {team: nobody, strategy: random}
    ack_template: welcome
    type: bug
    spam: "yes"
"""


def test_every_error_is_reported_with_position_and_rule(tmp_path: Path) -> None:
    rules = write(tmp_path, {"30-broken.yaml": BROKEN, "team.yaml": TEAM})
    found = problems(rules, templates={"ack"})
    path = str(rules / "30-broken.yaml")
    expected = [
        f"{path}:3:15: rule 'first': when.subject.contians: unknown key",
        f"{path}:8:19: rule 'second': when.body.regex: bad regular expression '(unclosed'",
        f"{path}:10:15: rule 'second': then.priority: unknown priority level 'P9'",
        f"{path}:13:11: rule 'third': when.from: expected a non-empty string, got integer 42",
        f"{path}:15:20: rule 'third': then.assign.team: unknown team 'nobody'",
        f"{path}:15:38: rule 'third': then.assign.strategy: expected a strategy",
        f"{path}:16:19: rule 'third': then.ack_template: unknown template 'welcome'",
        f"{path}:17:11: rule 'third': then.type: expected a ticket type",
        f"{path}:18:11: rule 'third': then.spam: expected true or false, got string 'yes'",
    ]
    assert len(found) == len(expected), found
    for message, start in zip(found, expected, strict=True):
        assert message.startswith(start), (message, start)


def test_unknown_agent_and_unknown_rule_key(tmp_path: Path) -> None:
    text = ("- name: r\n  when: {}\n  then: {assign: {agent: zoe@example.com}}\n"
            "  stopp: true\n")
    found = problems(write(tmp_path, {"r.yaml": text, "team.yaml": TEAM}))
    path = str(tmp_path / "rules" / "r.yaml")
    assert found[0].startswith(f"{path}:3:26: rule 'r': then.assign.agent: unknown agent "
                               "'zoe@example.com' (known: ana@example.com, bruno@example.com)")
    assert found[1].startswith(f"{path}:4:3: rule 'r': stopp: unknown key")


def test_agent_by_name_resolves_to_email(tmp_path: Path) -> None:
    text = "- {name: r, when: {}, then: {assign: {agent: Ana García}, watchers: [Bruno Díaz]}}\n"
    rule = load_ruleset(write(tmp_path, {"r.yaml": text, "team.yaml": TEAM})).rules[0]
    assert rule.then.assign.agent == "ana@example.com"
    assert rule.then.watchers == ("bruno@example.com",)


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    text = "- name: r\n  when: {subject: [a, b}\n  then: {}\n"
    (found,) = problems(write(tmp_path, {"r.yaml": text}))
    assert found.startswith(str(tmp_path / "rules" / "r.yaml") + ":2:")
    assert "YAML syntax" in found


def test_duplicate_key_is_a_syntax_error(tmp_path: Path) -> None:
    text = "- name: r\n  when: {}\n  then: {queue: a, queue: b}\n"
    (found,) = problems(write(tmp_path, {"r.yaml": text}))
    assert ":3:" in found and "duplicate" in found


def test_missing_parts_and_wrong_shapes(tmp_path: Path) -> None:
    text = "- name: r\n  when: {}\n- just a string\n- {name: r2, then: {}}\n"
    found = problems(write(tmp_path, {"r.yaml": text, "x.yaml": "a: 1\n"}))
    assert any(":1:3: rule 'r': a rule needs then:" in f for f in found)
    assert any(":3:3: expected a rule" in f for f in found)
    assert any(":4:3: rule 'r2': a rule needs when:" in f for f in found)
    assert any("x.yaml:1:1: expected a list of rules" in f for f in found)


def test_duplicate_rule_names(tmp_path: Path) -> None:
    rules = write(tmp_path, {"a.yaml": "- {name: r, when: {}, then: {}}\n",
                             "b.yaml": "\n- {name: r, when: {}, then: {}}\n"})
    (found,) = problems(rules)
    assert found.startswith(f"{rules / 'b.yaml'}:2: rule 'r': name: duplicate rule name")


def test_priority_and_impact_together_is_an_error(tmp_path: Path) -> None:
    text = "- {name: r, when: {}, then: {priority: P1, impact: high}}\n"
    (found,) = problems(write(tmp_path, {"r.yaml": text}))
    assert "either priority or impact/urgency" in found


def test_unknown_impact_and_sla_policy(tmp_path: Path) -> None:
    text = "- {name: r, when: {}, then: {impact: huge, sla: platinum}}\n"
    found = problems(write(tmp_path, {"r.yaml": text}), sla_policies={"gold"})
    assert "then.impact: expected an impact from priority.yaml: high, medium, low" in found[0]
    assert "unknown SLA policy 'platinum' (known: gold)" in found[1]


def test_team_file_errors(tmp_path: Path) -> None:
    team = """\
agents:
  - {name: Ana, email: ana@example.com, tier: 5, teams: [l9], colour: red}
  - {name: Ana Two, email: ANA@example.com}
  - {email: nobody@example.com}
teams:
  - {name: l1, lead: zoe@example.com, members: [ana@example.com]}
"""
    found = problems(write(tmp_path, {"team.yaml": team}))
    joined = "\n".join(found)
    assert ":2:63: agents[0].colour: unknown key" in joined
    assert ":2:47: agents[0].tier: expected an integer from 1 to 3, got integer 5" in joined
    assert ":2:58: agents[0].teams[0]: unknown team 'l9'" in joined
    assert ":4:5: agents[2]: an agent needs a name:" in joined
    assert ":6:22: teams[0].lead: unknown agent 'zoe@example.com'" in joined


def test_an_address_belongs_to_one_agent(tmp_path: Path) -> None:
    team = "agents:\n  - {name: Ana, email: ana@example.com}\n  - {name: B, addresses: [ANA@example.com]}\n"
    (found,) = problems(write(tmp_path, {"team.yaml": team}))
    assert ":3:5: agents[1]: address ana@example.com belongs to another agent too" in found


def test_priority_file_errors(tmp_path: Path) -> None:
    priority = """\
levels: [P1, P2]
default: {impact: huge}
matrix:
  high: {high: P1, low: P7}
  low: {high: P2}
"""
    found = "\n".join(problems(write(tmp_path, {"priority.yaml": priority})))
    assert ":4:25: matrix.high.low: unknown priority level 'P7'" in found
    assert ":5:8: matrix.low: every row needs the same urgencies" in found
    assert ":2:19: default.impact: expected high or low" in found


def test_list_file_missing(tmp_path: Path) -> None:
    text = "- {name: r, when: {from: {file: vip.txt}}, then: {}}\n"
    (found,) = problems(write(tmp_path, {"r.yaml": text}))
    assert ":1:33: rule 'r': when.from.file: cannot read list file" in found


def test_bad_condition_values(tmp_path: Path) -> None:
    text = """\
- name: r
  when:
    time: {weekdays: [mon, funday], hours: "9-17"}
    ticket: reply
    attachments: {size: 3}
    not: [x]
    any: []
"""
    found = "\n".join(problems(write(tmp_path, {"r.yaml": text})))
    assert ":3:28: rule 'r': when.time.weekdays[1]: unknown weekday 'funday'" in found
    assert ":3:44: rule 'r': when.time.hours: expected a range" in found
    assert ":4:13: rule 'r': when.ticket: expected new or follow-up" in found
    assert ":5:19: rule 'r': when.attachments.size: unknown key" in found
    assert ":6:10: rule 'r': when.not: expected a mapping of conditions" in found
    assert ":7:10: rule 'r': when.any: expected a non-empty list" in found
