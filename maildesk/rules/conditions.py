"""Compiled conditions: each one answers `match(facts)` with what matched, or None.

A match returns a tuple of human descriptions of the leaf conditions that matched, so a
dry run can say *why* a rule fired; None means the condition did not hold. Everything
that can be prepared (regexes, folded needles, address sets) is prepared at load time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from fnmatch import fnmatchcase
from typing import Protocol

from maildesk.mail.addresses import normalise_address
from maildesk.rules.context import RuleContext
from maildesk.text import fold
from maildesk.types import ParsedMail

Matched = tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Facts:
    """What every condition reads, computed once per message (folded text, local time)."""

    mail: ParsedMail
    ctx: RuleContext
    subject: str  # folded
    body: str  # folded
    sender: str  # lower-case address, "" when there is none
    local: datetime  # ctx.now in the desk's timezone
    business_hours: bool
    vip: bool
    organisation: str  # folded, "" when unknown


class Condition(Protocol):
    """Anything with a label (its YAML, for dry runs) and a match method."""

    @property
    def label(self) -> str: ...

    def match(self, facts: Facts) -> Matched: ...


@dataclass(frozen=True, slots=True)
class AddressSet:
    """Addresses and domains; a domain also covers its subdomains."""

    addresses: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    def has(self, email: str) -> bool:
        email = normalise_address(email)
        if email in self.addresses:
            return True
        domain = email.rpartition("@")[2]
        while domain:
            if domain in self.domains:
                return True
            domain = domain.partition(".")[2]
        return False

    def __bool__(self) -> bool:
        return bool(self.addresses or self.domains)


@dataclass(frozen=True, slots=True)
class Always:
    label: str = "always"

    def match(self, facts: Facts) -> Matched:
        return ()


@dataclass(frozen=True, slots=True)
class FromIs:
    label: str
    senders: AddressSet

    def match(self, facts: Facts) -> Matched:
        if facts.sender and self.senders.has(facts.sender):
            return (f"from {facts.sender} ({self.label})",)
        return None


@dataclass(frozen=True, slots=True)
class RecipientIs:
    """`to` or `cc`: which desk address the customer wrote to."""

    label: str
    field: str  # "to" or "cc"
    addresses: AddressSet

    def match(self, facts: Facts) -> Matched:
        for address in getattr(facts.mail, self.field):
            if self.addresses.has(address.email):
                return (f"{self.field} {address.email} ({self.label})",)
        return None


@dataclass(frozen=True, slots=True)
class TextTest:
    """contains (folded needles, any) and/or regex (any); both must hold when both given."""

    needles: tuple[tuple[str, str], ...] = ()  # (folded, as written)
    patterns: tuple[re.Pattern[str], ...] = ()

    def test(self, folded: str, raw: str, what: str) -> Matched:
        found: list[str] = []
        if self.needles:
            hit = next((written for needle, written in self.needles if needle in folded), None)
            if hit is None:
                return None
            found.append(f'{what} contains "{hit}"')
        if self.patterns:
            pattern = next((p for p in self.patterns if p.search(raw)), None)
            if pattern is None:
                return None
            found.append(f"{what} matches /{pattern.pattern}/")
        return tuple(found)


@dataclass(frozen=True, slots=True)
class SubjectMatches:
    label: str
    test: TextTest

    def match(self, facts: Facts) -> Matched:
        return self.test.test(facts.subject, facts.mail.subject, "subject")


@dataclass(frozen=True, slots=True)
class BodyMatches:
    label: str
    test: TextTest

    def match(self, facts: Facts) -> Matched:
        return self.test.test(facts.body, facts.mail.text, "body")


@dataclass(frozen=True, slots=True)
class HeaderMatches:
    """Any header by name: `exists`, and contains/regex against any of its values."""

    label: str
    name: str  # lower-case
    test: TextTest
    exists: bool | None = None

    def match(self, facts: Facts) -> Matched:
        values = facts.mail.header_all(self.name)
        if self.exists is not None and bool(values) != self.exists:
            return None
        if not (self.test.needles or self.test.patterns):
            return (self.label,)
        for value in values:
            found = self.test.test(fold(value), value, f"header {self.name}")
            if found is not None:
                return found
        return None


@dataclass(frozen=True, slots=True)
class AttachmentsMatch:
    """Some attachment whose content type and file name match the globs (case-insensitive)."""

    label: str
    present: bool | None = None
    types: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def match(self, facts: Facts) -> Matched:
        attachments = facts.mail.attachments
        if self.present is not None:
            return (self.label,) if bool(attachments) == self.present else None
        for attachment in attachments:
            kind, name = attachment.content_type.lower(), attachment.filename.lower()
            if self.types and not any(fnmatchcase(kind, glob) for glob in self.types):
                continue
            if self.names and not any(fnmatchcase(name, glob) for glob in self.names):
                continue
            return (f"attachment {attachment.filename} ({attachment.content_type})",)
        return None


@dataclass(frozen=True, slots=True)
class CustomerMatches:
    label: str
    organisations: tuple[str, ...] = ()  # folded
    vip: bool | None = None

    def match(self, facts: Facts) -> Matched:
        if self.organisations and facts.organisation not in self.organisations:
            return None
        if self.vip is not None and facts.vip != self.vip:
            return None
        return (self.label,)


@dataclass(frozen=True, slots=True)
class TimeMatches:
    """Evaluated on the desk's local time; `hours` may wrap midnight (22:00-06:00)."""

    label: str
    business_hours: bool | None = None
    weekdays: frozenset[int] = frozenset()  # 0 = Monday
    hours: tuple[time, time] | None = None

    def match(self, facts: Facts) -> Matched:
        local = facts.local
        if self.business_hours is not None and facts.business_hours != self.business_hours:
            return None
        if self.weekdays and local.weekday() not in self.weekdays:
            return None
        if self.hours is not None and not _within(local.time(), *self.hours):
            return None
        return (f"{self.label} (local {local:%a %H:%M})",)


def _within(now: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= now < end
    return now >= start or now < end


@dataclass(frozen=True, slots=True)
class TicketIs:
    label: str
    follow_up: bool

    def match(self, facts: Facts) -> Matched:
        return (self.label,) if facts.ctx.is_follow_up == self.follow_up else None


@dataclass(frozen=True, slots=True)
class AllOf:
    label: str
    items: tuple[Condition, ...] = field(default=())

    def match(self, facts: Facts) -> Matched:
        found: list[str] = []
        for item in self.items:
            matched = item.match(facts)
            if matched is None:
                return None
            found.extend(matched)
        return tuple(found)


@dataclass(frozen=True, slots=True)
class AnyOf:
    """True when at least one item holds; reports every item that held."""

    label: str
    items: tuple[Condition, ...] = field(default=())

    def match(self, facts: Facts) -> Matched:
        found = [m for m in (item.match(facts) for item in self.items) if m is not None]
        return tuple(d for m in found for d in m) if found else None


@dataclass(frozen=True, slots=True)
class NotOf:
    label: str
    item: Condition

    def match(self, facts: Facts) -> Matched:
        return (f"not ({self.item.label})",) if self.item.match(facts) is None else None
