"""The example rule set against real messages parsed from tests/mail (rules/ and es/)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from maildesk.rules import RuleContext, evaluate, load_ruleset
from maildesk.types import TicketType

parse = pytest.importorskip("maildesk.mail.parse").parse
MAIL = Path(__file__).resolve().parents[1] / "mail"
EXAMPLES = Path(__file__).resolve().parents[2] / "rules"
TUESDAY_NOON = datetime(2024, 5, 7, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset(EXAMPLES, templates={"ack", "ack-out-of-hours"})


def decide(ruleset, name: str, now: datetime = TUESDAY_NOON):  # noqa: ANN001, ANN201
    mail = parse((MAIL / name).read_bytes())
    return evaluate(ruleset, mail, RuleContext(now=now, timezone="Europe/Madrid"))


@pytest.mark.parametrize("name", ["rules/outage-subject-iso-8859-1.eml",
                                  "rules/outage-body-utf8-base64.eml"])
def test_spanish_outages_are_p1_incidents_for_l2(ruleset, name: str) -> None:  # noqa: ANN001
    decision = decide(ruleset, name)
    assert (decision.type, decision.priority, decision.queue) == (
        TicketType.INCIDENT, "P1", "infrastructure")
    assert decision.assign.team == "l2" and decision.assign.strategy == "least-open"
    assert decision.language == "es"
    assert decision.hits[-1].rule == "outages are urgent incidents"


def test_invoice_attachment_goes_to_billing(ruleset) -> None:  # noqa: ANN001
    decision = decide(ruleset, "rules/invoice-pdf-attachment.eml")
    assert decision.queue == "billing" and "billing" in decision.tags
    assert any("Factura-0312.pdf" in m for hit in decision.hits for m in hit.matched)


def test_corpus_invoice_question_in_spanish(ruleset) -> None:  # noqa: ANN001
    decision = decide(ruleset, "es/01-original-iso-8859-1-qp.eml")
    assert (decision.queue, decision.language) == ("billing", "es")


def test_newsletter_gets_no_ack(ruleset) -> None:  # noqa: ANN001
    decision = decide(ruleset, "rules/newsletter-list-id.eml")
    assert decision.ack_template == "none" and "bulk" in decision.tags


def test_spam_with_encoded_accented_subject(ruleset) -> None:  # noqa: ANN001
    decision = decide(ruleset, "rules/spam-encoded-subject.eml")
    assert decision.spam and decision.queue == "spam"
    assert [hit.rule for hit in decision.hits] == ["obvious spam"]


def test_out_of_hours_acknowledgement(ruleset) -> None:  # noqa: ANN001
    sunday = datetime(2024, 5, 12, 8, 0, tzinfo=UTC)
    decision = decide(ruleset, "rules/invoice-pdf-attachment.eml", now=sunday)
    assert decision.ack_template == "ack-out-of-hours"
