"""Parsing and checking #commands: pure, against a hand-built rule set."""

from __future__ import annotations

import pytest

from maildesk.agents.commands import CommandName, describe, find_agent, interpret, parse_commands
from maildesk.rules.schema import Agent, RuleSet, Team
from maildesk.types import TicketStatus, TicketType

RULES = RuleSet(
    agents={"ana@example.com": Agent("Ana García", "ana@example.com",
                                     ("ana@example.com", "ana@home.example")),
            "bruno@example.com": Agent("Bruno Díaz", "bruno@example.com",
                                       ("bruno@example.com",))},
    teams={"l1": Team("l1", 1), "l2": Team("l2", 2)})

ENGLISH_AND_SPANISH = [
    ("#note", "#nota", "note", True), ("#close", "#cerrar", "status", TicketStatus.CLOSED),
    ("#resolve", "#resolver", "status", TicketStatus.RESOLVED),
    ("#pending", "#pendiente", "status", TicketStatus.PENDING),
    ("#reopen", "#reabrir", "status", TicketStatus.OPEN),
    ("#assign bruno@example.com", "#asignar Bruno Díaz", "agent", "bruno@example.com"),
    ("#priority P1", "#prioridad p1", "priority", "P1"),
    ("#type incident", "#tipo incidencia", "type", TicketType.INCIDENT),
    ("#escalate", "#escalar", "escalate", True), ("#tag vpn", "#etiqueta VPN", "tags", ("vpn",)),
    ("#status pending", "#estado pendiente", "status", TicketStatus.PENDING),
    ("#status closed", "#estado Cerrado", "status", TicketStatus.CLOSED),
    ("#status resolved", "#estado resuelto", "status", TicketStatus.RESOLVED),
    ("#status open", "#estado abierto", "status", TicketStatus.OPEN),
]


def test_status_needs_a_known_state_and_agrees_with_the_others() -> None:
    _, plan = interpret("#status sleeping\nx", RULES)
    assert plan.errors == ("#status sleeping: unknown state (use open, pending, resolved "
                           "or closed)",)
    _, plan = interpret("#status pending\n#close\nx", RULES)
    assert plan.errors == ("#close: conflicts with another status",)
    _, plan = interpret("#estado\nx", RULES)
    assert plan.errors and "needs a value" in plan.errors[0]


@pytest.mark.parametrize("english, spanish, field, value", ENGLISH_AND_SPANISH)
def test_each_command_in_both_languages(english: str, spanish: str, field: str,
                                        value: object) -> None:
    for line in (english, spanish):
        block, plan = interpret(f"{line}\n\nsome text", RULES)
        assert plan.errors == () and getattr(plan, field) == value, line
        assert block.body == "some text" and block.lines == (line,)


def test_kb_and_team() -> None:
    _, plan = interpret("#kb\n#assign team:l2\nThe fix is X.", RULES)
    assert plan.kb and plan.team == "l2" and plan.errors == ()
    _, plan = interpret("#asignar equipo:l1\nx", RULES)
    assert plan.team == "l1"


def test_commands_only_at_the_top() -> None:
    block = parse_commands("Hello\n#close\n")
    assert block.commands == () and block.body == "Hello\n#close"
    block = parse_commands("\n\n#close\n\n#tag a\n\nHi\n#tag b")
    assert [c.name for c in block.commands] == [CommandName.CLOSE, CommandName.TAG]
    assert block.body == "Hi\n#tag b"


def test_hash_number_is_text() -> None:
    assert parse_commands("#1 problem is the printer").commands == ()


@pytest.mark.parametrize("text, error", [
    ("#frobnicate", "unknown command: #frobnicate"),
    ("#assign", "needs a value"),
    ("#close now", "takes no value"),
    ("#assign nobody", "no agent 'nobody'"),
    ("#assign team:l9", "unknown team 'l9'"),
    ("#priority P9", "unknown priority"),
    ("#type complaint", "unknown type"),
    ("#tag two words", "one word"),
    ("#close\n#pending", "conflicts with another status"),
    ("#assign ana\n#assign team:l1", "not both"),
    ("#note", "the note is empty"),
    ("#note\n#kb\ntext", "cannot be the documented solution"),
])
def test_errors(text: str, error: str) -> None:
    _, plan = interpret(text, RULES)
    assert any(error in e for e in plan.errors), plan.errors


def test_all_errors_are_reported_together() -> None:
    _, plan = interpret("#frob\n#priority P9\n#close\ntext", RULES)
    assert len(plan.errors) == 2


def test_find_agent_by_any_address_name_or_unique_first_name() -> None:
    assert find_agent(RULES, "ANA@home.example").email == "ana@example.com"
    assert find_agent(RULES, "ana garcia").email == "ana@example.com"
    assert find_agent(RULES, "Bruno").email == "bruno@example.com"
    assert find_agent(RULES, "carla") is None


def test_describe_lists_changes() -> None:
    _, plan = interpret("#pending\n#tag vpn\n#assign ana\nx", RULES)
    assert describe(plan, {"ana@example.com": "Ana García"}) == (
        "status: pending", "assignee: Ana García", "tag: vpn")
