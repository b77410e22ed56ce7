"""`maildesk rules check` and `maildesk rules test MESSAGE.eml [--json]`, minus argparse.

cli.py wires these in; they print and return an exit code (0 fine, 1 rules rejected or
the message unreadable) so that only cli.py exits.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from maildesk.config.model import Config
from maildesk.errors import ConfigError
from maildesk.rules.context import RuleContext
from maildesk.rules.evaluate import evaluate
from maildesk.rules.load import load_ruleset
from maildesk.rules.report import decision_to_dict, render_decision
from maildesk.rules.schema import RuleSet

EXIT_OK, EXIT_INVALID = 0, 1


def check_command(config: Config, *, templates: set[str] | None = None,
                  sla_policies: set[str] | None = None, out: TextIO | None = None) -> int:
    """Validate rules/ and print every problem (file:line:column: rule: key: message)."""
    out = out or sys.stdout
    try:
        ruleset = load_ruleset(config.rules_dir, templates=templates, sla_policies=sla_policies)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} in {config.rules_dir}", file=out)
        return EXIT_INVALID
    print(summary(ruleset, config.rules_dir), file=out)
    return EXIT_OK


def summary(ruleset: RuleSet, rules_dir: Path) -> str:
    files = len({rule.file for rule in ruleset.rules})
    return (f"{rules_dir}: OK, {len(ruleset.rules)} rules in {files} files, "
            f"{len(ruleset.agents)} agents, {len(ruleset.teams)} teams")


def test_command(config: Config, eml_path: Path, as_json: bool = False, *,
                 follow_up: bool = False, now: datetime | None = None,
                 templates: set[str] | None = None, out: TextIO | None = None) -> int:
    """Dry run: which rules a message would hit and the decision, nothing stored or sent."""
    from maildesk.mail.parse import parse  # only this command needs the parser

    out = out or sys.stdout
    try:
        ruleset = load_ruleset(config.rules_dir, templates=templates)
        mail = parse(Path(eml_path).read_bytes())
    except ConfigError as exc:
        print(exc, file=out)
        return EXIT_INVALID
    except OSError as exc:
        print(f"{eml_path}: cannot read: {exc.strerror}", file=out)
        return EXIT_INVALID
    zone = config.desk.timezone
    # Time conditions are evaluated at --at, else when the mail was written, else now.
    at = now or mail.date or datetime.now(ZoneInfo(zone))
    print(f"evaluated at {at.astimezone(ZoneInfo(zone)).isoformat()} ({zone})",
          file=sys.stderr)
    ctx = RuleContext(now=at, timezone=zone,
                      desk_addresses=config.desk.addresses, is_follow_up=follow_up)
    decision = evaluate(ruleset, mail, ctx)
    if as_json:
        print(json.dumps(decision_to_dict(decision), ensure_ascii=False, indent=2), file=out)
    else:
        print(render_decision(decision), file=out)
    return EXIT_OK
