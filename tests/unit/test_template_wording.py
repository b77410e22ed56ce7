"""Every shipped template, in both languages, speaks one language and greets once."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from maildesk.agents.commands import Plan, describe, interpret
from maildesk.agents.wording import translate, translate_all
from maildesk.outbox.context import (
    BUILTIN_TEMPLATES,
    CommandErrorContext,
    ConfirmContext,
    UpdateContext,
    opens_with_greeting,
    samples,
)
from maildesk.outbox.templates import TemplateStore
from maildesk.rules.schema import RuleSet, Team
from maildesk.types import TicketStatus, TicketType

ROOT = Path(__file__).resolve().parents[2]
GLOBALS = {"desk_name": "Acme", "desk_address": "support@acme.example"}
# Words that give a language away; sample data below uses neither language's words.
ENGLISH = {"the", "your", "you", "hello", "please", "sent", "customer", "unknown", "answer",
           "request", "ticket", "status", "assignee", "queued", "command", "not"}
SPANISH = {"hola", "su", "usted", "solicitud", "cliente", "estado", "desconocido", "gracias",
           "por", "favor", "respuesta", "asignada", "comando", "el", "la", "de"}
NEUTRAL = {"ref": "MD-7", "subject": "X-13", "name": "Zoe", "text": "X-13 E-13."}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W\d_]+", re.sub(r"https?://\S+", " ", text.lower())))


def _store() -> TemplateStore:
    store = TemplateStore(ROOT / "templates", "en", GLOBALS)
    assert store.load() == []
    return store


def _neutral(name: str, language: str) -> object:
    """The sample context of `name` with language-free data, as the desk would fill it."""
    context = samples()[name]
    values: dict[str, object] = {}
    for field_name in ("subject", "customer_name", "agent_name", "lead_name", "text",
                       "summary", "agent_text", "reason", "queue"):
        if hasattr(context, field_name):
            values[field_name] = NEUTRAL["text"] if "text" in field_name or field_name in (
                "summary", "reason") else (NEUTRAL["subject"] if field_name in ("subject", "queue")
                                           else NEUTRAL["name"])
    for field_name in ("first_response", "waiting_since", "close_after", "due", "remaining",
                       "target"):
        if hasattr(context, field_name):
            values[field_name] = "7"
    if hasattr(context, "attachments"):
        values["attachments"] = ("x.jpg",)
    if hasattr(context, "articles"):
        values["articles"] = ()
    if isinstance(context, ConfirmContext):
        plan = Plan(status=TicketStatus.PENDING, priority="P1", type=TicketType.INCIDENT)
        values["applied"] = translate_all(("answer queued for the customer", *describe(plan)),
                                          language)
    if isinstance(context, CommandErrorContext):
        wrong_state = "#status sleeping" if language == "en" else "#estado dormida"
        _block, checked = interpret(f"#frobnicate\n{wrong_state}\nx", RuleSet())
        values["errors"] = translate_all(checked.errors, language)
        values["command"] = "#frobnicate"
    return replace(context, **values)


@pytest.mark.parametrize("language, foreign", [("en", SPANISH), ("es", ENGLISH)])
@pytest.mark.parametrize("name", sorted(BUILTIN_TEMPLATES))
def test_each_template_speaks_one_language(name: str, language: str, foreign: set[str]) -> None:
    subject, text, html = _store().render(name, language, _neutral(name, language))
    for part in (subject, text, re.sub(r"<[^>]+>", " ", html or "")):
        mixed = _words(part) & foreign
        assert not mixed, (name, language, sorted(mixed), part)


@pytest.mark.parametrize("language, greeting", [("en", "Hi Zoe,"), ("es", "Hola, Zoe:")])
def test_an_answer_that_greets_is_not_greeted_twice(language: str, greeting: str) -> None:
    context = UpdateContext("MD-7", "X-13", f"{greeting}\n\nX-13 E-13.", "Ana", "Zoe")
    _subject, text, html = _store().render("update", language, context)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == greeting and not any(opens_with_greeting(line) for line in lines[1:])
    assert (html or "").count("Zoe") == 1


@pytest.mark.parametrize("text, greets", [
    ("Hello Alice,\n\nRestart it.", True), ("Hi Alice,", True), ("Dear Mr Smith,", True),
    ("Buenos días, Ana:\nx", True), ("Hola:\nx", True), ("Estimada Sra. Ruiz:\nx", True),
    ("Restart it, hello.", False), ("High priority now", False), ("\n\nHey!\nx", True),
])
def test_opens_with_greeting(text: str, greets: bool) -> None:
    assert opens_with_greeting(text) is greets


def test_every_command_message_has_a_spanish_wording() -> None:
    rules = RuleSet(teams={"l1": Team("l1", 1)})
    bad = ("#frobnicate\n#assign\n#close now\n#status sleeping\n#priority P9\n#type x\n"
           "#tag a b\n#assign team:zz\n#assign nobody\n#note\n#kb\nx")
    _, checked = interpret(bad, rules)
    _, conflict = interpret("#close\n#pending\n#type incident\n#type question\nx", rules)
    _, note = interpret("#note\n#kb", rules)
    everything = (*checked.errors, *conflict.errors, *note.errors,
                  *describe(Plan(note=True, status=TicketStatus.CLOSED, agent="a@x", team="l1",
                                 priority="P1", type=TicketType.REQUEST, escalate=True,
                                 tags=("vpn",), kb=True)),
                  "answer queued for the customer", "not escalated: already at the top tier",
                  "#kb: no answer to document yet (write it below the commands)")
    assert len(everything) > 15
    for line in everything:
        assert translate(line, "es") != line, line
        assert translate(line, "en") == line
