"""Pure: the new part of a reply, without quoted history and signatures; inline forwards.

`strip_reply` wraps mail-parser-reply (EmailMessage with `keep_hyphen_lists`, so an
agent's "- step one" list is not taken for a signature) and adds a thin post-processing
step for what that library misses in Spanish and Outlook mail (tested in
tests/unit/test_quotes.py):
- "El lun, 4 mar 2024 a las 10:00, María <m@x> escribió:" (the library's pattern wants
  two spaces before "escribió:"), also when a client wraps it over two lines;
- Outlook's "De: / Enviado el: / Para: / Asunto:" block ("Enviado el:" is not known);
- "-----Mensaje original-----".

`split_forward` finds an inline forward ("---------- Forwarded message ---------",
"-------- Mensaje reenviado --------", or an Outlook From:/Sent: block) and returns who
originally wrote it, so an agent's forward can open a ticket for that person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr

from mailparser_reply.parser import EmailMessage

from maildesk.types import Address

_QUOTE = r"(?:>\s?)*"
_WROTE = re.compile(rf"^{_QUOTE}(?:El|On)\s.+\s(?:escribi[oó]|wrote)\s*:\s*$", re.IGNORECASE)
_WROTE_START = re.compile(rf"^{_QUOTE}(?:El|On)\s.+", re.IGNORECASE)
_WROTE_END = re.compile(r".*\s(?:escribi[oó]|wrote)\s*:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(rf"^{_QUOTE}-{{2,}}\s*(?:Original Message|Mensaje original)\s*-{{2,}}\s*$",
                       re.IGNORECASE)
_FROM_LINE = re.compile(rf"^{_QUOTE}\*?(?:From|De)\s?\*?:\s*\S", re.IGNORECASE)
_DATE_LINE = re.compile(rf"^{_QUOTE}\*?(?:Sent|Date|Enviado(?: el)?|Fecha)\s?\*?:\s*\S",
                        re.IGNORECASE)
_FORWARD = re.compile(r"^\s*-{3,}\s*(?:Forwarded message|Original Message|Mensaje reenviado|"
                      r"Mensaje original|Message transféré)\s*-{3,}\s*$", re.IGNORECASE)
_HEADER = re.compile(r"^\s*\*?(From|De|Sent|Date|Enviado(?: el)?|Fecha|To|Para|Subject|Asunto"
                     r"|Cc)\s?\*?:\s*(.*)$", re.IGNORECASE)


def strip_reply(text: str, languages: Sequence[str] = ("en", "es")) -> str:
    """The latest reply in `text`: no quoted history, no signature, no "Sent from my …"."""
    if not text.strip():
        return ""
    message = EmailMessage(text=text, languages=list(languages), keep_hyphen_lists=True).read()
    body = message.replies[0].body if message.replies else text
    return cut_history(body).strip()


def cut_history(text: str) -> str:
    """Everything before the first quote header the library did not recognise."""
    lines = text.splitlines()
    for index in range(len(lines)):
        if _starts_history(lines, index):
            return "\n".join(lines[:index]).rstrip()
    return text


def _starts_history(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _WROTE.match(line) or _ORIGINAL.match(line):
        return True
    following = lines[index + 1:index + 4]
    if _WROTE_START.match(line) and following and _WROTE_END.match(following[0]):
        return True  # "El lun, 4 mar 2024, María <" wrapped before "escribió:"
    return bool(_FROM_LINE.match(line) and any(_DATE_LINE.match(n) for n in following))


@dataclass(frozen=True, slots=True)
class InlineForward:
    """A forward written into the body: who wrote the original, what, and the note above."""

    sender: Address
    subject: str
    text: str  # the original's body
    comment: str  # what the forwarder wrote above the forwarded block


def split_forward(text: str) -> InlineForward | None:
    """The first inline forward in `text`, if it names its original sender."""
    lines = text.replace("\r\n", "\n").splitlines()
    for index, line in enumerate(lines):
        start = index + 1 if _FORWARD.match(line) else index if _FROM_LINE.match(line) else None
        if start is None:
            continue
        found = _forward_at(lines, index, start)
        if found is not None:
            return found
    return None


def _forward_at(lines: list[str], marker: int, start: int) -> InlineForward | None:
    headers: dict[str, str] = {}
    end = start
    while end < len(lines) and (match := _HEADER.match(lines[end])):
        headers[_canonical(match.group(1))] = match.group(2).strip()
        end += 1
    if "from" not in headers or len(headers) < 2:
        return None
    name, email = parseaddr(headers["from"])
    if "@" not in email:
        return None
    return InlineForward(sender=Address(email.lower(), name), subject=headers.get("subject", ""),
                         text="\n".join(lines[end:]).strip(),
                         comment="\n".join(lines[:marker]).strip())


def _canonical(name: str) -> str:
    key = name.lower().split()[0]
    return {"de": "from", "enviado": "date", "sent": "date", "fecha": "date", "para": "to",
            "asunto": "subject"}.get(key, key)
