"""Macros: saved answers admins edit, `templates/<lang>/macros/NAME.txt.j2`.

A macro is a sandboxed Jinja2 body (the same environment as the desk's mail, see
outbox/templates.py) with an optional YAML front matter of commands to apply:

    ---
    status: pending
    tags: [billing]
    ---
    Hello {{ customer_name }}, ...

`#macro NAME` in an agent's reply puts the rendered text where the command stood (a
line of the command block puts it at the top of the answer, a line further down in
place of that line) and applies its commands, as if the agent had written them. The
agent's own commands win over a macro's (a macro's `status: pending` gives way to the
agent's `#close`). Shipped macros come first and a desk's own folder overrides them by
(language, name), as for templates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateSyntaxError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from sqlalchemy.orm import Session

from maildesk.agents.actions import Work
from maildesk.agents.commands import (
    Command,
    CommandBlock,
    CommandName,
    Plan,
    body_errors,
    parse_commands,
    plan,
)
from maildesk.config.examples import templates_dir
from maildesk.config.model import LANGUAGES, Config
from maildesk.errors import Problem
from maildesk.outbox.templates import TEXT_SUFFIX, make_environment
from maildesk.rules import RuleSet
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Ticket

FOLDER = "macros"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_INLINE = re.compile(r"^\s*#(macro|plantilla)[ \t]+(\S+)\s*$", re.IGNORECASE)
# Front matter key -> the command it stands for; a list value gives one command per item.
KEYS: dict[str, CommandName] = {
    "status": CommandName.STATUS, "tags": CommandName.TAG, "tag": CommandName.TAG,
    "priority": CommandName.PRIORITY, "type": CommandName.TYPE, "assign": CommandName.ASSIGN,
    "time": CommandName.TIME, "escalate": CommandName.ESCALATE, "note": CommandName.NOTE,
}
# Commands that set one value: the agent's own line for the slot wins over a macro's.
_SLOT = {CommandName.STATUS: "status", CommandName.CLOSE: "status",
         CommandName.RESOLVE: "status", CommandName.PENDING: "status",
         CommandName.REOPEN: "status", CommandName.ASSIGN: "assign",
         CommandName.PRIORITY: "priority", CommandName.TYPE: "type", CommandName.TIME: "time"}


@dataclass(frozen=True, slots=True)
class Macro:
    name: str
    language: str
    path: Path
    commands: tuple[Command, ...]
    template: Template | None  # None: it does not compile (reported), its commands still checked
    command_lines: tuple[int, ...] = ()  # the file line of each command, for `check`


@dataclass(frozen=True, slots=True)
class MacroContext:
    """What a macro may use: the ticket, its customer and the agent answering."""

    ticket_ref: str
    subject: str
    customer_name: str
    customer_email: str
    agent_name: str


SAMPLE = MacroContext("MD-1042", "The printer does not print", "María López",
                      "maria@example.com", "Ana García")


class MacroBook:
    """Every macro of a desk, compiled once; the problems found while loading."""

    def __init__(self, macros: dict[tuple[str, str], Macro] | None = None,
                 problems: Sequence[Problem] = ()) -> None:
        self.macros = dict(macros or {})
        self.problems = list(problems)

    def names(self) -> list[str]:
        return sorted({name for _, name in self.macros})

    def languages(self, name: str) -> list[str]:
        return sorted(lang for lang, n in self.macros if n == name)

    def find(self, name: str, language: str | None, default: str = "en") -> Macro | None:
        """`name` in `language`, else the desk's language, else English, else any."""
        for lang in (language, default, "en", *LANGUAGES):
            if lang and (lang, name) in self.macros:
                return self.macros[(lang, name)]
        return None


def folders(root: Path, shipped: bool = True) -> tuple[Path, ...]:
    packaged = templates_dir()
    if not shipped or not packaged.is_dir() or packaged.resolve() == Path(root).resolve():
        return (Path(root),)
    return (packaged, Path(root))


def load_macros(root: Path, globals_: dict[str, Any] | None = None,
                shipped: bool = True) -> MacroBook:
    """Compile every macro under `root` (and the shipped ones); never raises."""
    env = make_environment(Path(root), globals_)
    macros: dict[tuple[str, str], Macro] = {}
    problems: list[Problem] = []
    for folder in folders(root, shipped):
        for lang in LANGUAGES:
            for path in sorted((folder / lang / FOLDER).glob(f"*{TEXT_SUFFIX}")):
                macro = _load_one(env, lang, path, problems)
                if macro is not None:
                    macros[(lang, macro.name)] = macro
    return MacroBook(macros, problems)


def _load_one(env: Any, lang: str, path: Path, problems: list[Problem]) -> Macro | None:
    name = path.name.removesuffix(TEXT_SUFFIX)
    if not _NAME.match(name):
        problems.append(Problem(str(path), None, name, "a macro name is lower-case letters, "
                                "digits, - and _ (it is what agents type after #macro)"))
        return None
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), None, name, f"cannot read: {exc}"))
        return None
    found = _front_matter(source, path, name, problems)
    if found is None:
        return None
    commands, lines, body = found
    template = None
    try:
        template = env.from_string(body)
    except TemplateSyntaxError as exc:
        problems.append(Problem(str(path), exc.lineno, name, exc.message or str(exc)))
    return Macro(name, lang, path, commands, template, lines)


def _front_matter(source: str, path: Path, name: str, problems: list[Problem]
                  ) -> tuple[tuple[Command, ...], tuple[int, ...], str] | None:
    """(commands, their lines, body) with the front matter blanked so lines still match."""
    lines = source.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        return (), (), source
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        problems.append(Problem(str(path), 1, name, "front matter opened with --- is never "
                                "closed (end it with a --- line)"))
        return None
    try:
        data = YAML(typ="safe", pure=True).load("\n".join(lines[1:end])) or {}
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(str(path), mark.line + 2 if mark else 1, name,
                                f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(str(path), 2, name, "front matter must be `key: value` lines"))
        return None
    commands, numbers = _commands(data, lines[1:end], path, name, problems)
    body = "\n" * (end + 1) + "\n".join(lines[end + 1:])  # keeps the template's line numbers
    return commands, numbers, body


def _line_of(key: str, lines: Sequence[str]) -> int:
    for number, line in enumerate(lines, start=2):
        if re.match(rf"^\s*{re.escape(key)}\s*:", line):
            return number
    return 2


def _commands(data: dict[Any, Any], lines: Sequence[str], path: Path, name: str,
              problems: list[Problem]) -> tuple[tuple[Command, ...], tuple[int, ...]]:
    commands: list[Command] = []
    numbers: list[int] = []
    for key, value in data.items():
        line = _line_of(str(key), lines)
        command = KEYS.get(str(key).lower())
        if command is None:
            problems.append(Problem(str(path), line, f"{name}: {key}", "unknown key (use "
                                    f"{', '.join(k for k in KEYS if k != 'tag')})"))
            continue
        for argument in _arguments(command, value):
            if argument is None:
                problems.append(Problem(str(path), line, f"{name}: {key}",
                                        f"unusable value {value!r}"))
                continue
            written = f"#macro {name}: {key}: {argument}" if argument else f"#macro {name}: {key}"
            commands.append(Command(command, argument, written))
            numbers.append(line)
    return tuple(commands), tuple(numbers)


def _arguments(command: CommandName, value: Any) -> list[str | None]:
    """The argument of each command a front matter value stands for ("" for flags)."""
    if command in (CommandName.ESCALATE, CommandName.NOTE):
        return [""] if value is True else [] if value is False else [None]
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() if isinstance(v, (str, int, float)) and str(v).strip() else None
            for v in values]


def book_for(config: Config) -> MacroBook:
    """The desk's macros as they are on disk now (with the desk's template globals)."""
    return load_macros(config.templates_dir, {"desk_name": config.desk.name,
                                              "desk_address": config.desk.address})


def mentions_macro(text: str) -> bool:
    """Cheap: could `text` use a macro? (Loading the macros is only worth it then.)"""
    return bool(re.search(r"#(macro|plantilla)\b", text, re.IGNORECASE))


# -- using macros ------------------------------------------------------------------------

def render(macro: Macro, context: MacroContext) -> str:
    """The macro's text for this ticket (raises jinja2 errors, StrictUndefined included)."""
    if macro.template is None:
        raise ValueError(f"macro {macro.name} ({macro.path}) does not compile; see maildesk check")
    values = {"ticket_ref": context.ticket_ref, "subject": context.subject,
              "customer_name": context.customer_name,
              "customer_email": context.customer_email, "agent_name": context.agent_name}
    return macro.template.render(values).strip()


def interpret(text: str, ruleset: RuleSet, book: MacroBook, language: str | None,
              context: MacroContext, default_language: str = "en") -> tuple[CommandBlock, Plan]:
    """agents.commands.interpret, with every `#macro` expanded and its commands merged."""
    block = parse_commands(text)
    own = plan(block.commands, ruleset)
    errors = list(block.errors)
    top = [c.argument.strip().lower() for c in block.commands if c.name is CommandName.MACRO]
    pieces: list[str] = []
    used: list[str] = []
    extra: list[Command] = []
    for name in top:
        rendered = _use(book, name, language, default_language, context, f"#macro {name}",
                        errors)
        if rendered is not None:
            pieces.append(rendered[0])
            used.append(name)
            extra.extend(rendered[1])
    body_lines = []
    for line in block.body.split("\n"):
        match = _INLINE.match(line)
        if match is None:
            body_lines.append(line)
            continue
        name = match.group(2).lower()
        rendered = _use(book, name, language, default_language, context, line.strip(), errors)
        body_lines.append(rendered[0] if rendered else line)
        if rendered is not None:
            used.append(name)
            extra.extend(rendered[1])
    body = "\n\n".join([*pieces, "\n".join(body_lines).strip()]).strip()
    if not used:
        checked = replace(own, errors=(*errors, *own.errors, *body_errors(own, body)))
        return replace(block, body=body), checked
    merged = plan([*block.commands, *_not_overridden(extra, block.commands)], ruleset)
    merged = replace(merged, macros=tuple(dict.fromkeys(used)))
    checked = replace(merged, errors=(*errors, *merged.errors, *body_errors(merged, body)))
    return replace(block, body=body), checked


def _use(book: MacroBook, name: str, language: str | None, default_language: str,
         context: MacroContext, line: str, errors: list[str]
         ) -> tuple[str, tuple[Command, ...]] | None:
    macro = book.find(name, language, default_language)
    if macro is None:
        errors.append(f"{line}: no macro {name!r} (macros: {', '.join(book.names()) or 'none'})")
        return None
    try:
        return render(macro, context), macro.commands
    except Exception as exc:  # a template error is the admin's; the agent is told why
        errors.append(f"{line}: cannot render: {exc}")
        return None


def _not_overridden(extra: Sequence[Command], own: Sequence[Command]) -> list[Command]:
    """The macros' commands for whatever the agent's own commands leave unset."""
    taken = {_SLOT[c.name] for c in own if c.name in _SLOT}
    return [c for c in extra if c.name not in _SLOT or _SLOT[c.name] not in taken]


# -- checking ----------------------------------------------------------------------------

def check(book: MacroBook, ruleset: RuleSet | None) -> list[Problem]:
    """Load problems, then render each macro with sample values and plan its commands."""
    problems = list(book.problems)
    for (_, name), macro in sorted(book.macros.items()):
        try:
            if macro.template is not None:
                render(macro, SAMPLE)
        except Exception as exc:
            problems.append(Problem(str(macro.path), _render_line(exc, macro), name,
                                    f"cannot render: {exc}"))
        if ruleset is None:
            continue
        for command, line in zip(macro.commands, macro.command_lines, strict=True):
            for error in plan([command], ruleset).errors:
                problems.append(Problem(str(macro.path), line, name,
                                        error.removeprefix(f"#macro {name}: ")))
    return problems


def _render_line(exc: BaseException, macro: Macro) -> int | None:
    """The template line the error happened on (Jinja names the frame `<template>`)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def context_for(session: Session, ticket: Ticket, agent_name: str) -> MacroContext:
    customer = session.get(Contact, ticket.customer_id)
    return MacroContext(ticket.ref, ticket.subject, customer.name if customer else "",
                        customer.email if customer else "", agent_name)


def read_commands(desk: Desk, session: Session, ticket: Ticket, work: Work,
                  text: str) -> tuple[CommandBlock, Plan]:
    """The commands and answer of an agent's text, macros expanded (mail and CLI alike)."""
    book = book_for(desk.config) if mentions_macro(text) else MacroBook()
    return interpret(text, desk.ruleset, book, ticket.language,
                     context_for(session, ticket, work.agent.name),
                     desk.config.desk.language)
