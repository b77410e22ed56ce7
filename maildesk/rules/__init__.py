"""The rules engine admins edit: rules/*.yaml -> RuleSet -> Decision.

    ruleset = load_ruleset(config.rules_dir, templates={"ack", "ack-es"})
    decision = evaluate(ruleset, mail, RuleContext(now=now, timezone="Europe/Madrid"))
    agent = assignee_for(ruleset, decision.assign, open_counts, last_assigned)

Loading validates everything and raises ConfigError with every problem; evaluation and
assignment are pure functions. RulesHolder keeps the last good set for hot reload.
"""

from maildesk.rules.assign import assignee_for, choose_assignee
from maildesk.rules.context import RuleContext
from maildesk.rules.evaluate import evaluate
from maildesk.rules.holder import RulesHolder
from maildesk.rules.load import load_ruleset, rule_files
from maildesk.rules.report import decision_to_dict, render_decision
from maildesk.rules.schema import Actions, Agent, Priorities, Rule, RuleSet, Team
from maildesk.text import fold

__all__ = [
    "Actions", "Agent", "Priorities", "Rule", "RuleContext", "RuleSet", "RulesHolder", "Team",
    "assignee_for", "choose_assignee", "decision_to_dict", "evaluate", "fold", "load_ruleset",
    "render_decision", "rule_files",
]
