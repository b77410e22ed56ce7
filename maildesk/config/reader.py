"""Reading TOML tables with positions: the shared machinery behind config.py.

tomllib gives no positions for values, so a problem's line is found by locating the key
under its [section] in the text; every problem is collected, none raised early.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from maildesk.errors import Problem


def split_listen(listen: str) -> tuple[str, int]:
    """"127.0.0.1:8025" or "[::1]:8025" -> (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class Locator:
    """Finds the line of `key` under `[section]` in TOML text, for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, section: str, key: str = "") -> int | None:
        current = ""
        header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
        for number, line in enumerate(self.lines, start=1):
            match = header.match(line)
            if match:
                current = match.group(1)
                if current == section and not key:
                    return number
                continue
            if current == section and key and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
                return number
        return None


class Reader:
    """Typed access to one TOML table that collects problems instead of raising."""

    def __init__(self, path: Path, locate: Locator, section: str, table: Any,
                 problems: list[Problem]) -> None:
        self.path, self.locate, self.section = path, locate, section
        self.table = table if isinstance(table, dict) else {}
        self.problems = problems
        if not isinstance(table, dict):
            self.fail("", "must be a table")

    def fail(self, key: str, message: str) -> None:
        dotted = f"{self.section}.{key}" if key else self.section
        self.problems.append(Problem(str(self.path), self.locate.line(self.section, key),
                                     dotted, message))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if key not in self.table:
            return default
        value = self.table[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.fail(key, f"expected {names}, got {type(value).__name__} {value!r}")
            return default
        return value

    def unknown(self, known: set[str]) -> None:
        for key in self.table:
            if key not in known:
                self.fail(key, f"unknown key (known: {', '.join(sorted(known))})")


DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> int | None:
    """Seconds from an int or a string like "90", "30m", "1h", "2d"; None if not valid."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    match = DURATION.match(value) if isinstance(value, str) else None
    return int(match.group(1)) * DURATION_UNITS[match.group(2)] if match else None


def read_duration(r: Reader, key: str, default: int) -> int:
    if key not in r.table:
        return default
    seconds = parse_duration(r.table[key])
    if seconds is None:
        r.fail(key, f"expected a duration like 3600, \"30m\", \"1h\" or \"2d\", got {r.table[key]!r}")
        return default
    return seconds


def read_positive(r: Reader, key: str, kind: type, default: Any) -> Any:
    value = r.get(key, (int, float) if kind is float else kind, default)
    if value <= 0:
        r.fail(key, "must be greater than 0")
        return default
    return kind(value)


def read_listen(r: Reader, key: str, default: str, *, empty_ok: bool = False) -> str:
    value = r.get(key, str, default)
    if empty_ok and value == "":
        return value
    try:
        host, port = split_listen(value)
        if not 0 <= port < 65536:
            raise ValueError
    except ValueError:
        r.fail(key, f"expected \"host:port\" like \"127.0.0.1:8025\", got {value!r}")
        return default
    return value


