"""Pure parts of answering faster: durations, macro files and expansion, the Spanish
aliases and wording, and when an answer counts as written after seeing another."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from maildesk.agents import collisions
from maildesk.agents.commands import CommandName, Plan, describe, parse_commands
from maildesk.agents.commands import interpret as plain_interpret
from maildesk.agents.macros import MacroBook, MacroContext, interpret, load_macros
from maildesk.agents.timelog import format_minutes, minutes_error, parse_minutes
from maildesk.agents.wording import translate
from maildesk.rules.schema import Agent, RuleSet
from maildesk.types import ParsedMail, TicketStatus

RULES = RuleSet(agents={"ana@example.com": Agent(name="Ana García", email="ana@example.com")})
CONTEXT = MacroContext("MD-7", "Printer", "María", "maria@example.com", "Ana")


@pytest.mark.parametrize("value, minutes", [
    ("45", 45), ("30m", 30), ("1h15m", 75), ("1h 15min", 75), ("2h", 120), ("2h30", 150),
    ("90 min", 90), ("1H15M", 75), ("1.5h", None), ("ayer", None), ("h", None), ("", None)])
def test_parse_minutes(value: str, minutes: int | None) -> None:
    assert parse_minutes(value) == minutes


def test_minutes_errors_and_format() -> None:
    assert minutes_error("0") and minutes_error("25h") and minutes_error("x")
    assert minutes_error("24h") is None
    assert [format_minutes(m) for m in (30, 60, 75)] == ["30m", "1h", "1h 15m"]


def test_time_commands_add_up_and_spanish_aliases() -> None:
    block = parse_commands("#tiempo 1h\n#time 15\n#plantilla refund\n#enviar\n\n")
    assert [c.name for c in block.commands] == [CommandName.TIME, CommandName.TIME,
                                                CommandName.MACRO, CommandName.SEND]
    _, plan = plain_interpret("#tiempo 1h\n#time 15", RULES)
    assert plan.minutes == 75 and not plan.errors
    assert "time logged: 1h 15m" in describe(plan)
    _, both = plain_interpret("#send\n#descartar", RULES)
    assert both.errors == ("#descartar: #send and #drop: choose one",)
    _, chatty = plain_interpret("#send\n\nThanks!", RULES)
    assert chatty.errors and chatty.errors[0].startswith("#send: write nothing else")


def book(tmp_path: Path, files: dict[str, str]) -> MacroBook:
    folder = tmp_path / "en" / "macros"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / f"{name}.txt.j2").write_text(text, encoding="utf-8")
    return load_macros(tmp_path, shipped=False)


REFUND = "---\nstatus: pending\ntags: [billing]\n---\nHi {{ customer_name }}, refunded ({{ ticket_ref }}).\n{{ agent_name }}\n"


def test_macro_at_the_top_and_in_place(tmp_path: Path) -> None:
    macros = book(tmp_path, {"refund": REFUND, "sign": "Regards, {{ agent_name }}"})
    block, plan = interpret("#macro refund\n#tag vip\n\nP.S. soon.", RULES, macros, "en",
                            CONTEXT)
    assert block.body == "Hi María, refunded (MD-7).\nAna\n\nP.S. soon."
    assert plan.status == TicketStatus.PENDING and set(plan.tags) == {"billing", "vip"}
    assert plan.macros == ("refund",) and not plan.errors
    block, _ = interpret("Hello,\nit works now.\n#macro sign\n", RULES, macros, "es", CONTEXT)
    assert block.body == "Hello,\nit works now.\nRegards, Ana"  # es falls back to en


def test_the_agents_own_commands_win(tmp_path: Path) -> None:
    macros = book(tmp_path, {"refund": REFUND})
    _, plan = interpret("#close\n#macro refund", RULES, macros, "en", CONTEXT)
    assert plan.status == TicketStatus.CLOSED and not plan.errors


def test_unknown_or_broken_macro_is_an_error(tmp_path: Path) -> None:
    macros = book(tmp_path, {"refund": REFUND, "oops": "Hi {{ nobody }}"})
    _, plan = interpret("#macro refnud", RULES, macros, "en", CONTEXT)
    assert plan.errors == ("#macro refnud: no macro 'refnud' (macros: oops, refund)",)
    assert translate(plan.errors[0], "es").startswith("#macro refnud: no hay ninguna plantilla")
    _, plan = interpret("Hi\n#macro oops", RULES, macros, "en", CONTEXT)
    assert "cannot render" in plan.errors[0] and "nobody" in plan.errors[0]


def test_note_macro_fills_the_note(tmp_path: Path) -> None:
    macros = book(tmp_path, {"triage": "---\nnote: true\n---\nChecked the logs."})
    block, plan = interpret("#macro triage", RULES, macros, "en", CONTEXT)
    assert plan.note and block.body == "Checked the logs." and not plan.errors


def test_front_matter_problems_carry_lines(tmp_path: Path) -> None:
    macros = book(tmp_path, {
        "open": "---\nstatus: pending\nHi", "yaml": "---\nstatus: [\n---\nHi",
        "keys": "---\nstatus: pending\ncolour: red\n---\nHi", "Bad Name": "Hi",
        "syntax": "---\ntags: [a]\n---\n\n{% if %}"})
    found = {(Path(p.path).name, p.line, p.message.split(" (")[0]) for p in macros.problems}
    assert ("open.txt.j2", 1, "front matter opened with --- is never closed") in found
    assert ("keys.txt.j2", 3, "unknown key") in found
    assert any(name == "yaml.txt.j2" and "not valid YAML" in m for name, _, m in found)
    assert any(name == "Bad Name.txt.j2" for name, _, _ in found)
    assert any(name == "syntax.txt.j2" and line == 5 for name, line, _ in found)
    assert macros.names() == ["keys", "syntax"]  # what loads is usable or reported


def test_shipped_macros_render_in_both_languages() -> None:
    shipped = load_macros(Path("/nonexistent"))
    assert {"refund", "more-details"} <= set(shipped.names())
    for name in ("refund", "more-details"):
        assert shipped.languages(name) == ["en", "es"]
    from maildesk.agents.macros import check
    assert check(shipped, None) == []


def answer(**detail: object) -> SimpleNamespace:
    return SimpleNamespace(detail={"message_id": "upd@desk", "agent_message_id": "ana@mua",
                                   "text": "Hi María, the duplicate charge is refunded.",
                                   **detail})


def mail(text: str, *refs: str) -> ParsedMail:
    return ParsedMail(message_id="b@mua", subject="Re: x", from_addr=None, text=text,
                      in_reply_to=refs[-1:], references=refs)


def test_has_seen() -> None:
    other = answer()
    assert not collisions.has_seen(mail("We look into it.", "notice@desk"), other, set())
    assert collisions.has_seen(mail("ok", "upd@desk"), other, set())
    assert collisions.has_seen(mail("ok", "later@desk"), other, {"later@desk"})
    quoted = "Fine.\n\nOn Monday Ana wrote:\n> Hi Maria, the duplicate\n> charge is refunded."
    assert collisions.has_seen(mail(quoted, "notice@desk"), other, set())


def test_every_new_line_has_spanish_wording() -> None:
    lines = ["time logged: 1h 15m", "macro used: refund",
             "#time x: not a duration (use 45, 30m or 1h15m)",
             "#time 0: the time must be more than 0 minutes",
             "#time 30h: more than 24 hours in one entry",
             "#drop: #send and #drop: choose one",
             "#send: write nothing else (the held answer goes as it was)",
             "#macro x: no macro 'x' (macros: a)", "#macro x: cannot render: boom",
             "answer held: bruno@example.com answered this ticket 4 min ago; reply #send or #drop",
             "held answer sent to the customer", "held answer dropped (not sent)",
             "#send: no held answer of yours on this ticket"]
    for line in lines:
        assert translate(line, "es") != line, line
    assert Plan(minutes=5).changes_something and Plan(release="send").changes_something
