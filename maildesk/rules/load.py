"""rules/*.yaml -> RuleSet, reporting every problem with file:line:column and rule name.

Files are read in file-name order. team.yaml, priority.yaml and customers.yaml are read
first because rules refer to them; sla.yaml and calendar.yaml belong to the SLA module
and are skipped; every other *.yaml / *.yml file is a list of rules.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from maildesk.errors import ConfigError, Problem
from maildesk.rules.load_people import read_customers, read_priorities, read_team
from maildesk.rules.load_then import Known, read_then
from maildesk.rules.load_when import Sources, read_when
from maildesk.rules.nodes import Node, Report, root
from maildesk.rules.schema import Rule, RuleSet

TEAM_FILE, PRIORITY_FILE, CUSTOMERS_FILE = "team.yaml", "priority.yaml", "customers.yaml"
OWN_FILES = (TEAM_FILE, PRIORITY_FILE, CUSTOMERS_FILE)
OTHERS_FILES = ("sla.yaml", "calendar.yaml")  # loaded by the SLA/calendar module
RULE_KEYS = ("name", "description", "enabled", "when", "then", "stop")


def rule_files(rules_dir: Path) -> list[Path]:
    """The rule files, in the order they apply (file name, so 10-x before 20-y)."""
    found = [*rules_dir.glob("*.yaml"), *rules_dir.glob("*.yml")]
    skipped = {_stem(name) for name in (*OWN_FILES, *OTHERS_FILES)}
    return sorted((p for p in found if _stem(p.name) not in skipped), key=lambda p: p.name)


def watched_files(rules_dir: Path) -> list[Path]:
    """Every file whose change means the rule set must be reloaded (not sla/calendar)."""
    own = [rules_dir / name for name in _variants(OWN_FILES)]
    return [p for p in own if p.is_file()] + rule_files(rules_dir)


def _stem(name: str) -> str:
    return name.removesuffix(".yaml").removesuffix(".yml")


def _variants(names: tuple[str, ...]) -> list[str]:
    return [n for name in names for n in (name, _stem(name) + ".yml")]


def load_ruleset(rules_dir: Path, *, templates: set[str] | None = None,
                 sla_policies: set[str] | None = None) -> RuleSet:
    """Read and validate rules/; raise ConfigError listing every problem found.

    `templates` and `sla_policies`, when given, are the names an action may use.
    """
    rules_dir = Path(rules_dir)
    if not rules_dir.is_dir():
        raise ConfigError(Problem(str(rules_dir), None, "", "rules directory does not exist"))
    sources, problems = Sources(rules_dir), list[Problem]()
    team = _read_own(rules_dir, TEAM_FILE, sources, problems)
    agents, teams = read_team(*team)
    priorities = read_priorities(*_read_own(rules_dir, PRIORITY_FILE, sources, problems))
    customers_node, report = _read_own(rules_dir, CUSTOMERS_FILE, sources, problems)
    vip = read_customers(customers_node, report, sources)
    known = Known(agents, teams, priorities, templates, sla_policies)
    rules: list[Rule] = []
    for path in rule_files(rules_dir):
        rules.extend(_rule_file(path, known, sources, problems))
    _check_names(rules, rules_dir, problems)
    if problems:
        raise ConfigError(sorted(problems, key=_order))
    return RuleSet(tuple(rules), MappingProxyType(agents), MappingProxyType(teams),
                   priorities, vip, MappingProxyType(dict(sources.files)))


def _order(problem: Problem) -> tuple[str, int, int]:
    return problem.path, problem.line or 0, problem.column or 0


def _read_own(rules_dir: Path, name: str, sources: Sources,
              problems: list[Problem]) -> tuple[Node | None, Report]:
    path = rules_dir / name
    if not path.exists() and (rules_dir / (_stem(name) + ".yml")).exists():
        path = rules_dir / (_stem(name) + ".yml")
    report = Report(str(path), problems)
    if not path.exists():
        return None, report
    data = read_yaml(path, sources, problems)
    return (None if data is None else root(data)), report


def read_yaml(path: Path, sources: Sources, problems: list[Problem]) -> Any:
    """The document with line marks, or None (after reporting) when it cannot be read."""
    try:
        sources.files[str(path)] = path.stat().st_mtime_ns
        text = path.read_text(encoding="utf-8")
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        problems.append(Problem(str(path), line, "", f"YAML syntax: {message}", column))
    except (YAMLError, OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), None, "", f"cannot read: {exc}"))
    return None


def _rule_file(path: Path, known: Known, sources: Sources,
               problems: list[Problem]) -> list[Rule]:
    data = read_yaml(path, sources, problems)
    if data is None:
        return []
    node, report = root(data), Report(str(path), problems)
    if not node.is_list():
        report.wrong(node, "a list of rules (- name: ..., when: ..., then: ...)")
        return []
    rules = [_rule(item, path.name, known, sources, report) for item in node.items()]
    return [rule for rule in rules if rule is not None]


def _rule(node: Node, file: str, known: Known, sources: Sources,
          report: Report) -> Rule | None:
    report.rule = None
    node = Node(node.value, node.line, node.column)  # keys are relative to the rule
    if not node.is_map():
        report.wrong(node, "a rule (a mapping with name:, when:, then:)")
        return None
    name = node.value.get("name")
    report.rule = name if isinstance(name, str) and name.strip() else None
    report.unknown_keys(node, RULE_KEYS)
    before = len(report.problems)
    for key in ("name", "when", "then"):
        if key not in node.value:
            report.fail(node, f"a rule needs {key}:")
    if "name" in node.value:
        report.text(node.child("name"))
    when = read_when(node.child("when"), report, sources) if "when" in node.value else None
    then, stop = read_then(node.child("then"), report, known) if "then" in node.value \
        else (None, False)
    stop = _flag(node, "stop", report) or stop
    enabled = _flag(node, "enabled", report, default=True)
    if len(report.problems) > before or when is None or then is None or name is None:
        return None
    return Rule(str(name).strip(), file, node.line or 0, when, then, stop) if enabled else None


def _flag(node: Node, key: str, report: Report, default: bool = False) -> bool:
    if key not in node.value:
        return default
    value = report.boolean(node.child(key))
    return default if value is None else value


def _check_names(rules: list[Rule], rules_dir: Path, problems: list[Problem]) -> None:
    """Rule names identify hits in dry runs and ticket history, so they must be unique."""
    seen: dict[str, Rule] = {}
    for rule in rules:
        first = seen.setdefault(rule.name, rule)
        if first is not rule:
            problems.append(Problem(str(rules_dir / rule.file), rule.line, "name",
                                    f"duplicate rule name (first at {first.file}:{first.line})",
                                    None, rule.name))
