"""`maildesk rules diff`: an edit to the rules, replayed over stored mail, on both engines."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from maildesk.cli.main import main
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.db import transaction
from maildesk.store.models import Event, Ticket
from maildesk.tickets import operations as tickets
from maildesk.types import RawMail, Source
from tests.conftest import eml

EXTRA_RULE = """
- name: refunds are urgent
  when:
    subject: {contains: ["refund"]}
  then:
    priority: P1
"""


def diff(desk: Desk, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(desk.config.path), "rules", "diff", "--since", "3650d", "--json"])
    assert exit_.value.code == 0
    return json.loads(capsys.readouterr().out)


def events(desk: Desk) -> int:
    with desk.sessions() as session:
        return session.execute(select(func.count()).select_from(Event)).scalar_one()


def test_rules_diff_lists_what_an_edit_would_change(desk: Desk,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    invoice = accept(desk, RawMail(eml("agents/00-customer-invoice.eml"), Source.PIPE)).outcome
    refund = accept(desk, RawMail(eml("repair/01-maria-refund-followup.eml"),
                                  Source.PIPE)).outcome
    with transaction(desk.sessions) as session:  # a change by hand is not the rules' doing
        ticket = session.execute(select(Ticket).where(Ticket.ref == invoice.ref)).scalar_one()
        tickets.change_priority(session, ticket, "P2", desk.sla, actor="ana@example.com",
                                now=desk.clock() + timedelta(minutes=5))
    assert diff(desk, capsys)["changed"] == []

    rules = desk.config.rules_dir / "20-classify.yaml"
    text = rules.read_text()
    assert "    queue: billing\n" in text
    rules.write_text(text.replace("    queue: billing\n", "    queue: finance\n") + EXTRA_RULE)
    before = events(desk)
    result = diff(desk, capsys)
    assert result["mails"] == 2 and result["tickets"] == 2
    changed = {t["ref"]: {(d["field"], d["was"], d["would"], d["rule"], d["file"], d["line"])
                          for d in t["differences"]} for t in result["changed"]}
    billing_line = text.splitlines().index("- name: billing") + 1
    assert changed[invoice.ref] == {
        ("queue", "billing", "finance", "billing", "20-classify.yaml", billing_line)}
    urgent_line = len(text.splitlines()) + 2
    assert changed[refund.ref] == {
        ("queue", "billing", "finance", "billing", "20-classify.yaml", billing_line),
        ("priority", "P3", "P1", "refunds are urgent", "20-classify.yaml", urgent_line)}
    assert events(desk) == before  # nothing written
