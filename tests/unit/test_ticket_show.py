"""`maildesk tickets show` in text: SLA, satisfaction and the event log, not only in --json."""

from __future__ import annotations

import pytest

from maildesk.cli.tickets import print_human, sla_lines

VIEW = {
    "ref": "MD-7", "subject": "Printer", "status": "closed", "messages": [],
    "sla": {"response_due_at": "2026-11-23T11:00:00+00:00", "response_breached_at": None,
            "resolution_due_at": "2026-11-24T10:00:00+00:00",
            "resolution_breached_at": "2026-11-24T10:00:05+00:00", "escalation_level": 1},
    "satisfaction": {"score": 4, "comment": "quick", "at": "2026-11-25T09:00:00+00:00"},
    "events": [{"at": "2026-11-23T10:00:00+00:00", "actor": "rule:billing", "action": "assigned",
                "detail": {}, "reason": "billing words"},
               {"at": "2026-11-24T10:00:05+00:00", "actor": "system", "action": "sla-breach",
                "detail": {}, "reason": ""}],
}


def test_text_view_has_sla_satisfaction_and_events(capsys: pytest.CaptureFixture[str]) -> None:
    print_human(VIEW)
    out = capsys.readouterr().out
    assert "response due      2026-11-23T11:00:00+00:00" in out
    assert "resolution due    2026-11-24T10:00:00+00:00  BREACHED at 2026-11-24T10:00:05" in out
    assert "escalation level  1" in out
    assert 'satisfaction      4/5 "quick"' in out
    assert "--- events" in out
    assert "rule:billing  assigned (billing words)" in out and "system  sla-breach" in out


def test_no_sla_no_lines() -> None:
    assert sla_lines({}) == []
    assert sla_lines({"response_due_at": None, "escalation_level": 0}) == []
