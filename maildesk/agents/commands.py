"""Pure: the `#commands` at the top of an agent's mail -> a Plan of what to change.

Commands stand on their own lines before any other text; the first other line ends
them, so a `#` further down is plain text. Each has an English and a Spanish name
(docs/agents.md lists them). Everything is checked before anything is applied: one bad
line rejects the whole mail, so an agent never gets half of what they asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.utils import getaddresses
from enum import StrEnum

from maildesk.agents.repairs import REPAIR_ALIASES, RepairKind, RepairRequest, read_repair
from maildesk.agents.timelog import format_minutes, minutes_error, parse_minutes
from maildesk.rules import RuleSet
from maildesk.rules.schema import Agent
from maildesk.text import fold
from maildesk.types import Address, TicketStatus, TicketType


class CommandName(StrEnum):
    NOTE = "note"
    CLOSE = "close"
    RESOLVE = "resolve"
    PENDING = "pending"
    REOPEN = "reopen"
    ASSIGN = "assign"
    PRIORITY = "priority"
    TYPE = "type"
    ESCALATE = "escalate"
    TAG = "tag"
    KB = "kb"
    STATUS = "status"  # #status STATE: the same as #pending, #resolve, #close or #reopen
    MACRO = "macro"  # #macro NAME: insert a macro (agents/macros.py) and apply its commands
    TIME = "time"  # #time 30m: log time spent (agents/timelog.py)
    SEND = "send"  # #send: release my answer held by a collision (agents/collisions.py)
    DROP = "drop"  # #drop: discard it
    # Repairs (agents/repairs.py reads their values)
    MERGE = "merge"
    SPLIT = "split"
    MOVE = "move"
    CC = "cc"  # #cc add ADDRESS, #cc remove ADDRESS: the ticket's participants


ALIASES: dict[str, CommandName] = {
    **{name.value: name for name in CommandName},
    "nota": CommandName.NOTE, "cerrar": CommandName.CLOSE, "resolver": CommandName.RESOLVE,
    "pendiente": CommandName.PENDING, "reabrir": CommandName.REOPEN,
    "asignar": CommandName.ASSIGN, "prioridad": CommandName.PRIORITY,
    "tipo": CommandName.TYPE, "escalar": CommandName.ESCALATE, "etiqueta": CommandName.TAG,
    "estado": CommandName.STATUS, "copia": CommandName.CC,
    "plantilla": CommandName.MACRO, "tiempo": CommandName.TIME, "enviar": CommandName.SEND,
    "descartar": CommandName.DROP,
    **{alias: CommandName(kind.value) for alias, kind in REPAIR_ALIASES.items()},
}
# What #cc / #copia does (folded), English and Spanish.
CC_ADD, CC_REMOVE = "add", "remove"
CC_ACTIONS: dict[str, str] = {
    "add": CC_ADD, "anadir": CC_ADD, "agregar": CC_ADD, "incluir": CC_ADD,
    "remove": CC_REMOVE, "quitar": CC_REMOVE, "eliminar": CC_REMOVE, "borrar": CC_REMOVE,
}
TYPE_ALIASES: dict[str, TicketType] = {
    "incident": TicketType.INCIDENT, "incidencia": TicketType.INCIDENT,
    "incidente": TicketType.INCIDENT, "question": TicketType.QUESTION,
    "pregunta": TicketType.QUESTION, "consulta": TicketType.QUESTION,
    "request": TicketType.REQUEST, "solicitud": TicketType.REQUEST,
    "peticion": TicketType.REQUEST,
}
# The states #status and #estado accept (folded), English and Spanish.
STATE_ALIASES: dict[str, TicketStatus] = {
    "open": TicketStatus.OPEN, "reopen": TicketStatus.OPEN, "abierto": TicketStatus.OPEN,
    "reabrir": TicketStatus.OPEN, "pending": TicketStatus.PENDING,
    "pendiente": TicketStatus.PENDING, "resolved": TicketStatus.RESOLVED,
    "resolve": TicketStatus.RESOLVED, "resuelto": TicketStatus.RESOLVED,
    "resolver": TicketStatus.RESOLVED, "closed": TicketStatus.CLOSED,
    "close": TicketStatus.CLOSED, "cerrado": TicketStatus.CLOSED, "cerrar": TicketStatus.CLOSED,
}
STATUS_OF: dict[CommandName, TicketStatus] = {
    CommandName.CLOSE: TicketStatus.CLOSED, CommandName.RESOLVE: TicketStatus.RESOLVED,
    CommandName.PENDING: TicketStatus.PENDING, CommandName.REOPEN: TicketStatus.OPEN,
}
WITH_ARGUMENT = frozenset({CommandName.ASSIGN, CommandName.PRIORITY, CommandName.TYPE,
                           CommandName.TAG, CommandName.STATUS, CommandName.MACRO,
                           CommandName.TIME, CommandName.MERGE, CommandName.MOVE,
                           CommandName.CC})
OPTIONAL_ARGUMENT = frozenset({CommandName.SPLIT})
TEAM_PREFIXES = ("team:", "equipo:")
_LINE = re.compile(r"^\s*#([^\W\d_][\w-]*)(?:[ \t]+(.*?))?\s*$")
_TAG = re.compile(r"^[\w][\w.-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    argument: str = ""
    line: str = ""  # as the agent wrote it, for error messages


@dataclass(frozen=True, slots=True)
class CommandBlock:
    """What the top of a mail said: commands, what was wrong, and the text after them."""

    commands: tuple[Command, ...] = ()
    errors: tuple[str, ...] = ()
    body: str = ""
    lines: tuple[str, ...] = ()  # the command lines as written


@dataclass(frozen=True, slots=True)
class Plan:
    """Every change one mail (or one CLI call) asks for; None/False/() leaves it alone."""

    note: bool = False
    status: TicketStatus | None = None
    agent: str | None = None  # assign to this agent (primary e-mail)
    team: str | None = None  # or hand over to this team, unassigned
    priority: str | None = None
    type: TicketType | None = None
    escalate: bool = False
    tags: tuple[str, ...] = ()
    untag: tuple[str, ...] = ()  # tags to remove (the API's tags action)
    kb: bool = False
    minutes: int = 0  # #time: minutes spent
    macros: tuple[str, ...] = ()  # #macro NAME, in the order written
    release: str | None = None  # #send or #drop: what to do with a held answer
    repair: RepairRequest | None = None  # #merge, #split or #move
    cc_add: tuple[Address, ...] = ()  # participants to add
    cc_remove: tuple[str, ...] = ()  # participants to stop copying (e-mail addresses)
    errors: tuple[str, ...] = field(default=())

    @property
    def changes_something(self) -> bool:
        return any((self.status, self.agent, self.team, self.priority, self.type,
                    self.escalate, self.tags, self.untag, self.kb, self.minutes,
                    self.release, self.repair, self.cc_add, self.cc_remove))


def parse_commands(text: str) -> CommandBlock:
    """Split the command lines off the top of `text` and read them."""
    lines = text.replace("\r\n", "\n").split("\n")
    commands: list[Command] = []
    written: list[str] = []
    errors: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _LINE.match(line)
        if not line.strip() or match:
            if match:
                written.append(line.strip())
                _read_line(match, line.strip(), commands, errors)
            index += 1
            continue
        break
    if not written:
        return CommandBlock(body=text.strip())
    return CommandBlock(tuple(commands), tuple(errors), "\n".join(lines[index:]).strip(),
                        tuple(written))


def _read_line(match: re.Match[str], line: str, commands: list[Command],
               errors: list[str]) -> None:
    name = ALIASES.get(fold(match.group(1)).strip())
    argument = (match.group(2) or "").strip()
    if name is None:
        errors.append(f"unknown command: {line}")
    elif name in WITH_ARGUMENT and not argument:
        errors.append(f"{line}: needs a value (#{name} …)")
    elif name not in WITH_ARGUMENT and name not in OPTIONAL_ARGUMENT and argument:
        errors.append(f"{line}: #{name} takes no value")
    else:
        commands.append(Command(name, argument, line))


def find_agent(ruleset: RuleSet, who: str) -> Agent | None:
    """An agent by any e-mail address, full name, or a first name only one agent has."""
    by_address = ruleset.agent_for(who)
    if by_address is not None:
        return by_address
    wanted = fold(who).strip()
    agents = list(ruleset.agents.values())
    exact = [a for a in agents if fold(a.name).strip() == wanted]
    first = [a for a in agents if fold(a.name).split()[:1] == [wanted]]
    found = exact or first
    return found[0] if len(found) == 1 else None


def plan(commands: Sequence[Command], ruleset: RuleSet) -> Plan:
    """Check every command against the rule set and gather them into one Plan."""
    values: dict[str, object] = {}
    errors: list[str] = []
    tags: list[str] = []
    values["minutes"], values["macros"] = 0, ()
    people: dict[str, dict[str, Address]] = {CC_ADD: {}, CC_REMOVE: {}}
    for command in commands:
        if command.name is CommandName.CC:
            error = _cc(command.argument, people)
        else:
            error = _gather(command, ruleset, values, tags)
        if error:
            errors.append(f"{command.line or '#' + command.name}: {error}")
    both = sorted(set(people[CC_ADD]) & set(people[CC_REMOVE]))
    errors.extend(f"#cc {email}: both added and removed" for email in both)
    return Plan(tags=tuple(dict.fromkeys(tags)), errors=tuple(errors),
                cc_add=tuple(people[CC_ADD].values()),
                cc_remove=tuple(people[CC_REMOVE]), **values)  # type: ignore[arg-type]


def cc_addresses(text: str) -> list[Address] | None:
    """Pure: "ana@x, Luis <luis@y>" -> Addresses; None when one is not an address."""
    found = []
    for name, email in getaddresses([text]):
        email = email.strip().lower()
        if not _EMAIL.match(email):
            return None
        found.append(Address(email, name.strip()))
    return found or None


def _cc(argument: str, people: dict[str, dict[str, Address]]) -> str | None:
    """#cc add|remove ADDRESS[, ADDRESS...] (Spanish: #copia añadir|quitar ...)."""
    word, _, rest = argument.strip().partition(" ")
    action = CC_ACTIONS.get(fold(word).strip())
    addresses = cc_addresses(rest) if rest.strip() else None
    if action is None or not rest.strip():
        return "use #cc add ADDRESS or #cc remove ADDRESS"
    if addresses is None:
        return f"not an e-mail address: {rest.strip()}"
    for who in addresses:
        people[action][who.email] = who
    return None


def _gather(command: Command, ruleset: RuleSet, values: dict[str, object],
            tags: list[str]) -> str | None:
    name, argument = command.name, command.argument
    if name in STATUS_OF:
        return _set_once(values, "status", STATUS_OF[name], "conflicts with another status")
    if name is CommandName.STATUS:
        state = STATE_ALIASES.get(fold(argument))
        if state is None:
            return "unknown state (use open, pending, resolved or closed)"
        return _set_once(values, "status", state, "conflicts with another status")
    if name is CommandName.ASSIGN:
        return _assign(argument, ruleset, values)
    if name is CommandName.PRIORITY:
        levels = ruleset.priorities.levels
        level = argument.upper()
        if level not in levels:
            return f"unknown priority (use one of {', '.join(levels)})"
        return _set_once(values, "priority", level, "two different priorities")
    if name is CommandName.TYPE:
        kind = TYPE_ALIASES.get(fold(argument).strip())
        if kind is None:
            return "unknown type (use incident, question or request)"
        return _set_once(values, "type", kind, "two different types")
    if name in (CommandName.MERGE, CommandName.SPLIT, CommandName.MOVE):
        request = read_repair(RepairKind(name.value), argument)
        if isinstance(request, str):
            return request
        return _set_once(values, "repair", request, "one repair (#merge, #split, #move) per mail")
    if name is CommandName.TAG:
        if not _TAG.match(argument):
            return "a tag is one word (letters, digits, . _ -)"
        tags.append(argument.lower())
        return None
    if name in (CommandName.MACRO, CommandName.TIME, CommandName.SEND, CommandName.DROP):
        return _answer_faster(command, values)
    values[{CommandName.NOTE: "note", CommandName.ESCALATE: "escalate",
            CommandName.KB: "kb"}[name]] = True
    return None


def _answer_faster(command: Command, values: dict[str, object]) -> str | None:
    """#macro, #time, #send, #drop: what the plan records of them (applied elsewhere)."""
    if command.name is CommandName.MACRO:
        values["macros"] = (*values["macros"], command.argument.strip().lower())  # type: ignore[misc]
        return None
    if command.name is CommandName.TIME:
        error = minutes_error(command.argument)
        if error is None:
            values["minutes"] = int(values["minutes"]) + (parse_minutes(command.argument) or 0)  # type: ignore[call-overload]
        return error
    return _set_once(values, "release", str(command.name), "#send and #drop: choose one")


def _set_once(values: dict[str, object], key: str, value: object, conflict: str) -> str | None:
    if key in values and values[key] != value:
        return conflict
    values[key] = value
    return None


def _assign(argument: str, ruleset: RuleSet, values: dict[str, object]) -> str | None:
    lowered = argument.lower()
    prefix = next((p for p in TEAM_PREFIXES if lowered.startswith(p)), None)
    if prefix is not None:
        team = argument[len(prefix):].strip()
        if ruleset.team(team) is None:
            return f"unknown team {team!r} (teams: {', '.join(ruleset.teams) or 'none'})"
        if "agent" in values:
            return "assign to an agent or a team, not both"
        return _set_once(values, "team", team, "two different teams")
    agent = find_agent(ruleset, argument)
    if agent is None:
        return f"no agent {argument!r} (use an agent's e-mail or full name, or team:NAME)"
    if "team" in values:
        return "assign to an agent or a team, not both"
    return _set_once(values, "agent", agent.email, "two different agents")


def interpret(text: str, ruleset: RuleSet) -> tuple[CommandBlock, Plan]:
    """parse_commands then plan: the block (with its body) and the plan with every error."""
    block = parse_commands(text)
    checked = plan(block.commands, ruleset)
    errors = block.errors + checked.errors + body_errors(checked, block.body) \
        + repair_errors(checked)
    return block, replace(checked, errors=errors)


def body_errors(result: Plan, body: str) -> tuple[str, ...]:
    """What the plan cannot do with this text: an empty note, a note as the solution."""
    errors = []
    if result.note and not body.strip():
        errors.append("#note: the note is empty (write it below the commands)")
    if result.note and result.kb:
        errors.append("#kb: an internal note cannot be the documented solution")
    if result.release and body.strip():
        errors.append(f"#{result.release}: write nothing else (the held answer goes as it was)")
    return tuple(errors)


def describe(result: Plan, agent_names: dict[str, str] | None = None) -> tuple[str, ...]:
    """Human lines for the confirmation mail: what the plan did."""
    names = agent_names or {}
    lines = []
    if result.note:
        lines.append("internal note added (not sent to the customer)")
    if result.status:
        lines.append(f"status: {result.status}")
    if result.agent:
        lines.append(f"assignee: {names.get(result.agent, result.agent)}")
    if result.team:
        lines.append(f"team: {result.team} (unassigned)")
    if result.priority:
        lines.append(f"priority: {result.priority}")
    if result.type:
        lines.append(f"type: {result.type}")
    if result.escalate:
        lines.append("escalated to the next tier")
    lines.extend(f"tag: {tag}" for tag in result.tags)
    lines.extend(f"tag removed: {tag}" for tag in result.untag)
    if result.kb:
        lines.append("knowledge base draft made from this answer")
    if result.minutes:
        lines.append(f"time logged: {format_minutes(result.minutes)}")
    lines.extend(f"participant added: {who.email}" for who in result.cc_add)
    lines.extend(f"participant removed: {email}" for email in result.cc_remove)
    return tuple(lines)


def repair_errors(result: Plan) -> tuple[str, ...]:
    """A repair with what cannot follow it: a note lives on one ticket, not two."""
    if result.repair is not None and result.note:
        return (f"#{result.repair.kind}: cannot be combined with #note (send the note apart)",)
    return ()
