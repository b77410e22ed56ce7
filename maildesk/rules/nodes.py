"""YAML nodes that remember where they came from, and typed readers that collect problems.

ruamel.yaml's round-trip loader keeps 0-based line/column marks on every mapping and
sequence (`.lc`); a Node pairs a value with its 1-based mark and its dotted key path, so
every Problem can say `rules/50-outages.yaml:7:9: rule 'x': then.queue: ...` and the
validator can go on to find the next mistake instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maildesk.errors import Problem


@dataclass(frozen=True, slots=True)
class Node:
    value: Any
    line: int | None
    column: int | None
    key: str = ""  # dotted path from the rule (or file) root, e.g. "when.any[1].body"

    def _path(self, name: str | int) -> str:
        if isinstance(name, int):
            return f"{self.key}[{name}]"
        return f"{self.key}.{name}" if self.key else str(name)

    def _mark(self, getter: str, name: Any) -> tuple[int | None, int | None]:
        try:
            line, column = getattr(self.value.lc, getter)(name)
        except (AttributeError, KeyError, IndexError, TypeError):
            return self.line, self.column
        return line + 1, column + 1

    def child(self, name: str) -> Node:
        """The value under mapping key `name`, marked where the value starts."""
        return Node(self.value[name], *self._mark("value", name), self._path(name))

    def key_of(self, name: str) -> Node:
        """The key itself (for 'unknown key' problems), marked where the key is written."""
        return Node(name, *self._mark("key", name), self._path(name))

    def item(self, index: int) -> Node:
        return Node(self.value[index], *self._mark("item", index), self._path(index))

    def items(self) -> list[Node]:
        return [self.item(i) for i in range(len(self.value))]

    def entries(self) -> list[tuple[str, Node]]:
        return [(str(k), self.child(k)) for k in self.value]

    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    def is_list(self) -> bool:
        return isinstance(self.value, list)


def root(value: Any) -> Node:
    line = getattr(getattr(value, "lc", None), "line", None)
    column = getattr(getattr(value, "lc", None), "col", None)
    return Node(value, None if line is None else line + 1, None if column is None else column + 1)


def kind(value: Any) -> str:
    """YAML's name for a value's type, for 'expected X, got Y' messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "mapping" if isinstance(value, dict) else "value"


@dataclass
class Report:
    """Collects problems for one file; `rule` names the rule being read, if any."""

    path: str
    problems: list[Problem] = field(default_factory=list)
    rule: str | None = None

    def fail(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.path, node.line, node.key, message,
                                     node.column, self.rule))

    def wrong(self, node: Node, expected: str) -> None:
        shown = _short(node.value)
        self.fail(node, f"expected {expected}, got {kind(node.value)}" + (f" {shown}" if shown else ""))

    def unknown_keys(self, node: Node, known: tuple[str, ...] | set[str]) -> None:
        for name in node.value:
            if name not in known:
                self.fail(node.key_of(str(name)),
                          f"unknown key (known: {', '.join(sorted(known))})")

    def text(self, node: Node) -> str | None:
        if isinstance(node.value, str) and node.value.strip():
            return node.value.strip()
        self.wrong(node, "a non-empty string")
        return None

    def boolean(self, node: Node) -> bool | None:
        if isinstance(node.value, bool):
            return node.value
        self.wrong(node, "true or false")
        return None

    def integer(self, node: Node, allowed: range) -> int | None:
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool) and value in allowed:
            return value
        self.wrong(node, f"an integer from {allowed.start} to {allowed.stop - 1}")
        return None

    def texts(self, node: Node) -> list[tuple[str, Node]]:
        """A string or a list of strings, each with its own node for precise marks."""
        items = node.items() if node.is_list() else [node]
        out = []
        for item in items:
            value = self.text(item)
            if value is not None:
                out.append((value, item))
        return out

    def mapping(self, node: Node, known: tuple[str, ...] | set[str]) -> bool:
        if not node.is_map():
            self.wrong(node, "a mapping")
            return False
        self.unknown_keys(node, known)
        return True


def _short(value: Any) -> str:
    text = "" if isinstance(value, (dict, list)) or value is None else repr(value)
    return text if len(text) < 40 else text[:37] + "..."
