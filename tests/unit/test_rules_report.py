"""Dry-run output (text and JSON) and the check/test command functions."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from maildesk.config.model import Config
from maildesk.rules import (
    RuleContext,
    decision_to_dict,
    evaluate,
    load_ruleset,
    render_decision,
)
from maildesk.rules import (
    check as commands,
)
from maildesk.types import Address, Decision, ParsedMail

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 5, 7, 10, 0, tzinfo=UTC)


def outage_decision() -> Decision:
    ruleset = load_ruleset(REPO / "rules")
    mail = ParsedMail(message_id="m", subject="Servidor caído", from_addr=Address("a@b.es"))
    return evaluate(ruleset, mail, RuleContext(now=NOW, timezone="Europe/Madrid"))


def test_render_lists_rules_reasons_and_result() -> None:
    text = render_decision(outage_decision())
    assert "3 rules matched, in order:" in text
    assert "3. outages are urgent incidents  (50-outages.yaml:" in text
    assert 'when  subject contains "caído"' in text
    assert "set   priority=P1" in text
    assert "assign       team l2 (least-open)" in text
    assert render_decision(Decision()).startswith("No rule matched.")


def test_json_is_plain() -> None:
    data = json.loads(json.dumps(decision_to_dict(outage_decision())))
    assert data["type"] == "incident" and data["priority"] == "P1"
    assert data["assign"] == {"agent": None, "team": "l2", "strategy": "least-open",
                              "skills": []}
    assert data["hits"][-1]["rule"] == "outages are urgent incidents"


def desk(tmp_path: Path) -> Config:
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    return Config(path=tmp_path / "maildesk.toml")


def test_check_command(tmp_path: Path) -> None:
    config, out = desk(tmp_path), io.StringIO()
    assert commands.check_command(config, out=out) == 0
    assert "OK, 10 rules in 3 files, 3 agents, 3 teams" in out.getvalue()
    (tmp_path / "rules" / "60-bad.yaml").write_text("- {name: x, when: {}, then: {queue: 3}}\n")
    out = io.StringIO()
    assert commands.check_command(config, out=out) == 1
    assert "60-bad.yaml:1:37: rule 'x': then.queue: expected a non-empty string" in out.getvalue()
    assert "1 problem in" in out.getvalue()


def test_test_command_text_and_json(tmp_path: Path) -> None:
    config, out = desk(tmp_path), io.StringIO()
    eml = REPO / "tests/mail/rules/outage-subject-iso-8859-1.eml"
    assert commands.test_command(config, eml, False, now=NOW, out=out) == 0
    assert "outages are urgent incidents" in out.getvalue()
    out = io.StringIO()
    assert commands.test_command(config, eml, True, now=NOW, out=out) == 0
    assert json.loads(out.getvalue())["queue"] == "infrastructure"
    assert commands.test_command(config, tmp_path / "missing.eml", False, out=io.StringIO()) == 1
