"""[[brands]]: several faces of one desk, each with its own addresses and wording.

Mail to a brand's address opens a ticket of that brand; everything the desk sends on the
ticket afterwards (acknowledgement, agents' answers, reminders) goes out from the brand's
first address, under its display name, in its language by default, rendered from its
template directory (which overrides the desk's templates one file at a time, as those
override the shipped ones), with its signature and its web links. A desk without
[[brands]] is one brand: the [desk] section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maildesk.config.reader import Reader
from maildesk.config.services import NthTable
from maildesk.errors import Problem
from maildesk.mail.addresses import base_address, normalise_address

LANGUAGES = ("en", "es")
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PREFIX = re.compile(r"[A-Z][A-Z0-9]{0,9}")


@dataclass(frozen=True, slots=True)
class Brand:
    name: str  # short id, stored on tickets: "acme", "globex"
    addresses: tuple[str, ...]  # the first is the From of the brand's mail
    display_name: str
    language: str | None = None  # default language of its tickets (else [desk] language)
    signature: str = ""  # appended to mail to customers
    templates: Path | None = None  # overrides the desk's templates
    base_url: str = ""  # its web endpoint (links in mail); else [web] base_url
    ticket_prefix: str | None = None  # its tickets' prefix; else [desk] ticket_prefix

    @property
    def address(self) -> str:
        return self.addresses[0]


KEYS = {"name", "addresses", "display_name", "signature", "language", "templates",
        "template_dir", "base_url", "web_base_url", "ticket_prefix"}


def read_brand(r: Reader, base: Path) -> Brand | None:
    r.unknown(KEYS)
    name = r.get("name", str, "")
    if not NAME.match(name):
        r.fail("name", "is required: lower-case letters, digits, - or _")
    written = r.get("addresses", list, [])
    addresses = [normalise_address(a) for a in written if isinstance(a, str)]
    if not addresses or len(addresses) < len(written) or \
            not all(ADDRESS.match(a) for a in addresses):
        r.fail("addresses", "must be a non-empty list of e-mail addresses")
    language = r.get("language", str, None)
    if language is not None and language not in LANGUAGES:
        r.fail("language", f"must be one of {', '.join(LANGUAGES)}")
    prefix = r.get("ticket_prefix", str, None)
    if prefix is not None and not PREFIX.fullmatch(prefix):
        r.fail("ticket_prefix", "must be 1-10 upper-case letters or digits, starting with a letter")
    templates = r.get("templates", str, None) or r.get("template_dir", str, None)
    if templates and not (base / templates).is_dir():
        r.fail("templates" if "templates" in r.table else "template_dir",
               f"{base / templates} is not a directory")
    url = (r.get("base_url", str, "") or r.get("web_base_url", str, "")).rstrip("/")
    if url and not re.match(r"^https?://", url):
        r.fail("base_url", "must start with http:// or https://")
    if not NAME.match(name) or not addresses:
        return None
    return Brand(name=name, addresses=tuple(addresses),
                 display_name=r.get("display_name", str, "") or name,
                 language=language if language in LANGUAGES else None,
                 signature=r.get("signature", str, "").strip("\n"),
                 templates=base / templates if templates else None, base_url=url,
                 ticket_prefix=prefix if prefix and PREFIX.fullmatch(prefix) else None)


def read_brands(path: Path, text: str, tables: Any, base: Path,
                problems: list[Problem]) -> tuple[Brand, ...]:
    """[[brands]] tables; each read with a locator starting at its own header."""
    if not isinstance(tables, list):
        problems.append(Problem(str(path), None, "brands", "must be an array of tables: [[brands]]"))
        return ()
    brands = []
    for index, table in enumerate(tables):
        brand = read_brand(Reader(path, NthTable(text, "brands", index), "brands", table,
                                  problems), base)
        if brand is not None:
            brands.append(brand)
    _duplicates(path, brands, problems)
    return tuple(brands)


def _duplicates(path: Path, brands: list[Brand], problems: list[Problem]) -> None:
    names = [b.name for b in brands]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(str(path), None, "brands.name", f"duplicate brand {name!r}"))
    seen: dict[str, int] = {}
    for index, brand in enumerate(brands):
        for address in brand.addresses:
            other = seen.setdefault(base_address(address), index)
            if other != index:
                problems.append(Problem(str(path), None, "brands.addresses",
                                        f"{address} belongs to brands {brands[other].name!r} "
                                        f"and {brand.name!r}"))


def brand_for(brands: Iterable[Brand], recipients: Iterable[str]) -> Brand | None:
    """The brand of the first recipient that is one of a brand's addresses (+tags folded)."""
    by_address = {base_address(a): b for b in brands for a in b.addresses}
    for recipient in recipients:
        brand = by_address.get(base_address(recipient))
        if brand is not None:
            return brand
    return None
