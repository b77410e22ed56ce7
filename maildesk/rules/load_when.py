"""`when:` YAML -> compiled conditions, with every mistake reported at its position.

Each condition key has one small reader; a mapping with several keys means all of them
must hold. Readers return None after reporting a problem, so one bad condition never
hides the next.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from maildesk.mail.addresses import normalise_address
from maildesk.rules.conditions import (
    AddressSet,
    AllOf,
    Always,
    AnyOf,
    AttachmentsMatch,
    BodyMatches,
    Condition,
    CustomerMatches,
    FromIs,
    HeaderMatches,
    NotOf,
    RecipientIs,
    SubjectMatches,
    TextTest,
    TicketIs,
    TimeMatches,
)
from maildesk.rules.nodes import Node, Report
from maildesk.text import fold

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-4]):([0-5]\d)$")


@dataclass
class Sources:
    """The rules directory, and every file read from it with its mtime (for changed())."""

    rules_dir: Path
    files: dict[str, int] = field(default_factory=dict)

    def read_list(self, name: str, node: Node, report: Report) -> list[str] | None:
        """Lines of a list file such as vip.txt; '#' starts a comment."""
        path = self.rules_dir / name
        try:
            text = path.read_text(encoding="utf-8")
            self.files[str(path)] = path.stat().st_mtime_ns
        except (OSError, UnicodeDecodeError) as exc:
            report.fail(node, f"cannot read list file {path}: {exc}")
            return None
        lines = (line.partition("#")[0].strip() for line in text.splitlines())
        return [line for line in lines if line]


Reader = Callable[[Node, Report, Sources], Condition | None]


def read_when(node: Node, report: Report, sources: Sources) -> Condition | None:
    """A mapping of conditions, all of which must hold; `{}` matches every message."""
    if not node.is_map():
        report.wrong(node, "a mapping of conditions")
        return None
    report.unknown_keys(node, set(READERS))
    found = [READERS[name](value, report, sources) for name, value in node.entries()
             if name in READERS]
    items = [item for item in found if item is not None]
    if len(items) != len(node.value):
        return None
    if not items:
        return Always()
    return items[0] if len(items) == 1 else AllOf(_label("all", node), tuple(items))


def _label(name: str, node: Node) -> str:
    return f"{name}: {json.dumps(node.value, ensure_ascii=False, default=str)}"


def address_set(node: Node, report: Report, sources: Sources) -> AddressSet | None:
    """Addresses and domains, inline or from `{file: name.txt}` (lists may mix both)."""
    entries = node.items() if node.is_list() else [node]
    addresses: set[str] = set()
    domains: set[str] = set()
    ok = True
    for entry in entries:
        words = _address_words(entry, report, sources)
        if words is None:
            ok = False
            continue
        for word in words:
            word = normalise_address(word)
            if "@" in word.lstrip("@"):
                addresses.add(word)
            else:
                domains.add(word.lstrip("@").removeprefix("*.").lstrip("."))
    return AddressSet(frozenset(addresses), frozenset(domains)) if ok else None


def _address_words(entry: Node, report: Report, sources: Sources) -> list[str] | None:
    if entry.is_map():
        if not report.mapping(entry, ("file",)) or "file" not in entry.value:
            if "file" not in entry.value:
                report.fail(entry, "a list file is written {file: name.txt}")
            return None
        name = report.text(entry.child("file"))
        return None if name is None else sources.read_list(name, entry.child("file"), report)
    word = report.text(entry)
    if word is not None and (" " in word or word.count("@") > 1 or word.endswith("@")):
        report.fail(entry, f"not an address or domain: {word!r}")
        return None
    return None if word is None else [word]


def _from(node: Node, report: Report, sources: Sources) -> Condition | None:
    found = address_set(node, report, sources)
    return None if found is None else FromIs(_label("from", node), found)


def _recipient(field_name: str) -> Reader:
    def read(node: Node, report: Report, sources: Sources) -> Condition | None:
        found = address_set(node, report, sources)
        return None if found is None else RecipientIs(_label(field_name, node), field_name, found)
    return read


def text_test(node: Node, report: Report, extra: tuple[str, ...] = ()) -> TextTest | None:
    """`"x"`, `[x, y]` (contains) or `{contains: ..., regex: ...}`."""
    if not node.is_map():
        shorthand = _needles(node, report)
        return None if shorthand is None else TextTest(needles=shorthand)
    before = len(report.problems)
    if not report.mapping(node, ("contains", "regex", *extra)):
        return None
    needles: tuple[tuple[str, str], ...] | None = ()
    patterns: tuple[re.Pattern[str], ...] | None = ()
    if "contains" in node.value:
        needles = _needles(node.child("contains"), report)
    if "regex" in node.value:
        patterns = _patterns(node.child("regex"), report)
    if needles is None or patterns is None:
        return None
    if not (needles or patterns or extra):
        if len(report.problems) == before:
            report.fail(node, "give contains: or regex:")
        return None
    return TextTest(needles, patterns)


def _needles(node: Node, report: Report) -> tuple[tuple[str, str], ...] | None:
    """Folded once here, so matching a message is a plain substring test."""
    texts = report.texts(node)
    if not texts and not (node.is_list() and node.value):
        report.fail(node, "give at least one string")
    count = len(node.value) if node.is_list() else 1
    return tuple((fold(t), t) for t, _ in texts) if texts and len(texts) == count else None


def _patterns(node: Node, report: Report) -> tuple[re.Pattern[str], ...] | None:
    sources = report.texts(node)
    count = len(node.value) if node.is_list() else 1
    if count == 0:
        report.fail(node, "give at least one regular expression")
    compiled: list[re.Pattern[str]] = []
    ok = len(sources) == count > 0
    for source, item in sources:
        try:
            compiled.append(re.compile(source))
        except re.error as exc:
            report.fail(item, f"bad regular expression {source!r}: {exc}")
            ok = False
    return tuple(compiled) if ok else None


def _subject(node: Node, report: Report, sources: Sources) -> Condition | None:
    test = text_test(node, report)
    return None if test is None else SubjectMatches(_label("subject", node), test)


def _body(node: Node, report: Report, sources: Sources) -> Condition | None:
    test = text_test(node, report)
    return None if test is None else BodyMatches(_label("body", node), test)


def _header(node: Node, report: Report, sources: Sources) -> Condition | None:
    if not node.is_map() or "name" not in node.value:
        report.wrong(node, "a mapping with name: and contains:, regex: or exists:")
        return None
    name = report.text(node.child("name"))
    test = text_test(node, report, extra=("name", "exists"))
    exists = report.boolean(node.child("exists")) if "exists" in node.value else None
    if name is None or test is None or ("exists" in node.value and exists is None):
        return None
    return HeaderMatches(_label("header", node), name.lower(), test, exists)


def _attachments(node: Node, report: Report, sources: Sources) -> Condition | None:
    label = _label("attachments", node)
    if isinstance(node.value, bool):
        return AttachmentsMatch(label, present=node.value)
    if not report.mapping(node, ("type", "name")):
        return None
    types = tuple(t.lower() for t, _ in report.texts(node.child("type"))) \
        if "type" in node.value else ()
    names = tuple(n.lower() for n, _ in report.texts(node.child("name"))) \
        if "name" in node.value else ()
    if not (types or names):
        report.fail(node, "give type: (content-type glob) or name: (file-name glob)")
        return None
    return AttachmentsMatch(label, types=types, names=names)


def _customer(node: Node, report: Report, sources: Sources) -> Condition | None:
    if not report.mapping(node, ("organisation", "organization", "vip")):
        return None
    organisations: tuple[str, ...] = ()
    for key in ("organisation", "organization"):
        if key in node.value:
            organisations += tuple(fold(t) for t, _ in report.texts(node.child(key)))
    vip = report.boolean(node.child("vip")) if "vip" in node.value else None
    if "vip" in node.value and vip is None or not (organisations or "vip" in node.value):
        if not (organisations or "vip" in node.value):
            report.fail(node, "give organisation: or vip:")
        return None
    return CustomerMatches(_label("customer", node), organisations, vip)


def _time(node: Node, report: Report, sources: Sources) -> Condition | None:
    if not report.mapping(node, ("business_hours", "weekdays", "hours")) or not node.value:
        if node.is_map():
            report.fail(node, "give business_hours:, weekdays: or hours:")
        return None
    hours = weekdays = business = None
    ok = True
    if "business_hours" in node.value:
        business = report.boolean(node.child("business_hours"))
        ok = business is not None
    if "weekdays" in node.value:
        weekdays = _weekdays(node.child("weekdays"), report)
        ok = ok and weekdays is not None
    if "hours" in node.value:
        hours = _hours(node.child("hours"), report)
        ok = ok and hours is not None
    if not ok:
        return None
    return TimeMatches(_label("time", node), business, weekdays or frozenset(), hours)


def _weekdays(node: Node, report: Report) -> frozenset[int] | None:
    days, ok = set(), True
    for text, item in report.texts(node):
        if text.lower()[:3] in WEEKDAYS:
            days.add(WEEKDAYS.index(text.lower()[:3]))
        else:
            report.fail(item, f"unknown weekday {text!r} (use {', '.join(WEEKDAYS)})")
            ok = False
    if ok and not days:
        report.fail(node, "give at least one weekday")
    return frozenset(days) if ok and days else None


def _hours(node: Node, report: Report) -> tuple[time, time] | None:
    match = _HOURS.match(node.value) if isinstance(node.value, str) else None
    if match is None:
        report.wrong(node, 'a range "HH:MM-HH:MM" (may wrap midnight)')
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    end = time.max if h2 == 24 else time(h2, m2)
    return time(h1, m1), end


def _ticket(node: Node, report: Report, sources: Sources) -> Condition | None:
    if node.value not in ("new", "follow-up"):
        report.wrong(node, "new or follow-up")
        return None
    return TicketIs(f"ticket: {node.value}", node.value == "follow-up")


def _group(name: str) -> Reader:
    def read(node: Node, report: Report, sources: Sources) -> Condition | None:
        if not node.is_list() or not node.value:
            report.wrong(node, f"a non-empty list of conditions under {name}:")
            return None
        items = [read_when(item, report, sources) for item in node.items()]
        if any(item is None for item in items):
            return None
        group = AllOf if name == "all" else AnyOf
        return group(_label(name, node), tuple(i for i in items if i is not None))
    return read


def _not(node: Node, report: Report, sources: Sources) -> Condition | None:
    inner = read_when(node, report, sources)
    return None if inner is None else NotOf(_label("not", node), inner)


READERS: dict[str, Reader] = {
    "from": _from, "to": _recipient("to"), "cc": _recipient("cc"),
    "subject": _subject, "body": _body, "header": _header, "attachments": _attachments,
    "customer": _customer, "time": _time, "ticket": _ticket,
    "all": _group("all"), "any": _group("any"), "not": _not,
}
