"""Merged tickets in the threader, the explanation of `thread test`, and reading the
repair commands (#merge, #split, #move) with their Spanish names and wording."""

from __future__ import annotations

from dataclasses import replace

import pytest

from maildesk.agents.commands import interpret
from maildesk.agents.repairs import RepairKind, RepairRequest, ticket_ref
from maildesk.agents.wording import translate
from maildesk.rules import RuleSet
from maildesk.tickets.thread_explain import StepResult, explain
from maildesk.tickets.threader import find_ticket
from maildesk.types import ThreadMethod, TicketStatus
from tests.unit.test_threader import NOW, POLICY, lookups, mail, ticket

SOURCE = replace(ticket(5), merged_into=9)
TARGET = ticket(9, parties=("ana@cliente.example", "pedro@cliente.example"))


def test_headers_of_a_merged_ticket_land_in_the_target() -> None:
    found = find_ticket(mail("Re: x", in_reply_to=("old@x",)), (), NOW, POLICY,
                        lookups({"old@x": 5}, (SOURCE, TARGET)))
    assert found.ticket_id == 9 and "MD-5 was merged into MD-9" in found.evidence


def test_tag_of_a_merged_ticket_from_a_party_of_the_target() -> None:
    found = find_ticket(mail("[MD-5] again", sender="pedro@cliente.example"), (), NOW, POLICY,
                        lookups(tickets=(SOURCE, TARGET)))
    assert (found.ticket_id, found.method) == (9, ThreadMethod.SUBJECT_TAG)


def test_weak_subject_counts_a_merged_ticket_and_its_target_once() -> None:
    found = find_ticket(mail("Re: Hola"), (), NOW, POLICY,
                        lookups(tickets=(SOURCE, TARGET), recent=(TARGET, SOURCE)))
    assert found.ticket_id == 9 and found.weak


def test_explain_names_the_step_and_the_evidence() -> None:
    found = explain(mail("Re: x", in_reply_to=("old@x",)), (), NOW, POLICY,
                    lookups({"old@x": 5}, (SOURCE, TARGET)))
    assert found.ref == "MD-9" and found.decision == "join MD-9"
    first = found.steps[0]
    assert (first.name, first.result) == ("headers", StepResult.MATCHED)
    assert "<old@x>" in first.detail
    assert [s.result for s in found.steps[1:5]] == [StepResult.NOT_REACHED] * 4
    assert found.steps[-1].name == "merged"


def test_explain_lists_rejected_candidates() -> None:
    one, two = ticket(1), ticket(2)
    found = explain(mail("Re: Hola"), (), NOW, POLICY, lookups(tickets=(one, two),
                                                               recent=(one, two)))
    assert found.ref is None and found.decision == "new ticket"
    assert {r.ref for r in found.rejected} == {"MD-1", "MD-2"}
    assert all("does not guess" in r.why for r in found.rejected)

    stranger = explain(mail("[MD-1] hi", sender="eve@evil.example"), (), NOW, POLICY,
                       lookups(tickets=(one,)))
    assert stranger.ref is None and stranger.rejected[0].ref == "MD-1"
    assert "not a party" in stranger.rejected[0].why

    closed = ticket(3, status=TicketStatus.CLOSED, closed_days=40)
    late = explain(mail("Re: x", in_reply_to=("c@x",)), (), NOW, POLICY,
                   lookups({"c@x": 3}, (closed,)))
    assert late.ref is None and late.rejected[0].step == "closed"


def test_explain_agrees_with_find_ticket_when_nothing_matches() -> None:
    found = explain(mail("Fwd: hello", in_reply_to=("zz@x",)), (), NOW, POLICY, lookups())
    assert found.ref is None and found.match.method == ThreadMethod.NEW
    assert [s.result for s in found.steps] == [StepResult.NO_MATCH, StepResult.SKIPPED,
                                              StepResult.SKIPPED, StepResult.SKIPPED,
                                              StepResult.SKIPPED]


@pytest.mark.parametrize("text, expected", [
    ("#merge MD-9\n\nhi", RepairRequest(RepairKind.MERGE, "MD-9")),
    ("#fusionar [md-0009]", RepairRequest(RepairKind.MERGE, "MD-9")),
    ("#split", RepairRequest(RepairKind.SPLIT)),
    ("#dividir siguientes", RepairRequest(RepairKind.SPLIT, following=True)),
    ("#mover MD-3", RepairRequest(RepairKind.MOVE, "MD-3")),
])
def test_repair_commands(text: str, expected: RepairRequest) -> None:
    _, plan = interpret(text, RuleSet())
    assert plan.errors == () and plan.repair == expected and plan.changes_something


def test_bad_repair_commands_are_refused_in_both_languages() -> None:
    _, plan = interpret("#merge\n#move nine\n#split now\n#merge MD-1\n#split", RuleSet())
    assert len(plan.errors) == 4
    _, noted = interpret("#note\n#merge MD-2\n\ntext", RuleSet())
    for line in (*plan.errors, *noted.errors, "merged into MD-9: MD-5 now points there",
                 "message <a@b> moved to MD-3", "#move: no ticket MD-7",
                 "split off into MD-4 (2 message(s)), assigned to ana@example.com",
                 "split off into MD-4 (1 message(s)), assigned to team l1",
                 "#split: reply to the notification of the message to split "
                 "(this reply quotes no customer mail of MD-1)",
                 "#merge: MD-1 cannot be merged into itself",
                 "#merge: MD-1 is already merged into another ticket",
                 "#merge: MD-2 is itself merged into another ticket; merge into that one",
                 "#split: nothing received would stay on MD-1: that is the whole ticket",
                 "#move: message <a@b> is already on MD-3",
                 "#move: MD-2 is merged into MD-3; move it there"):
        assert translate(line, "es") != line, line
    assert ticket_ref("[ md-07 ]") == "MD-7" and ticket_ref("MD7") is None
