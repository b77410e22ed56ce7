"""Pure: the author's new words in a mail, without quoted history or signature; inline forwards.

The first rule is never to lose the author's words: a wrong cut is worse than a leaked
quote. So the desk cuts only where a client marked a quote (see maildesk/mail/segments.py
and quote_marks.py), keeps text written below a quote (bottom-posting), keeps the quoted
lines an author answered in between (interleaved replies), and trims a signature only at
the very end (maildesk/mail/signature.py). Where the mail has HTML with a known quote
structure (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo), that structure decides what is
quoted (maildesk/mail/quotes_html.py).

`split_forward` finds an inline forward ("---------- Forwarded message ---------",
"-------- Mensaje reenviado --------", or an Outlook From:/Sent: block) and returns who
originally wrote it, so an agent's forward can open a ticket for that person.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

from maildesk.mail import quote_marks as marks
from maildesk.mail.quotes_html import quoted_text
from maildesk.mail.segments import Kind, Segment, segment
from maildesk.mail.signature import trim_signature
from maildesk.types import Address, ParsedMail


def author_text(mail: ParsedMail) -> str:
    """The author's new words in `mail`: from its HTML structure when it has one."""
    if mail.html:
        marked = quoted_text(mail.html)
        if marked is not None:
            return strip_reply(marked)
    return strip_reply(mail.text)


def strip_reply(text: str) -> str:
    """The author's new words in `text`: no quoted history, no trailing signature."""
    if not text.strip():
        return ""
    segments = _drop_trailing_history(segment(text))
    authored = [s for s in segments if s.kind == Kind.AUTHOR and not s.blank]
    if not authored:
        return _forwarded_only(segment(text))
    interleaved = _interleaved(segments)
    lines: list[str] = []
    for index, part in enumerate(segments):
        if part.kind == Kind.AUTHOR:
            lines.extend(part.lines)
        elif part.kind == Kind.QUOTE and interleaved and _answered(segments, index):
            lines.extend(_as_quote(part.lines))
    return _tidy(trim_signature(lines))


def _drop_trailing_history(segments: list[Segment]) -> list[Segment]:
    """Without what follows the author's last words: quotes, attributions, history."""
    end = len(segments)
    while end and (segments[end - 1].kind != Kind.AUTHOR or segments[end - 1].blank):
        end -= 1
    kept = segments[:end]
    history = next((i for i, s in enumerate(kept) if s.kind in (Kind.HISTORY, Kind.FORWARD)),
                   None)
    return kept if history is None else kept[:history]


def _interleaved(segments: list[Segment]) -> bool:
    """True when the author wrote on both sides of a quote (not a plain bottom-post)."""
    seen_author = seen_quote_after = False
    for part in segments:
        if part.kind == Kind.AUTHOR and not part.blank:
            if seen_quote_after:
                return True
            seen_author = True
        elif part.kind == Kind.QUOTE and seen_author:
            seen_quote_after = True
    quotes = [i for i, s in enumerate(segments) if s.kind == Kind.QUOTE]
    return sum(1 for i in quotes if _answered(segments, i)) > 1


def _answered(segments: list[Segment], index: int) -> bool:
    """Whether the author wrote something right after the quote at `index`."""
    for part in segments[index + 1:]:
        if part.kind == Kind.AUTHOR and not part.blank:
            return True
        if part.kind == Kind.QUOTE:
            return False
    return False


def _as_quote(lines: tuple[str, ...]) -> list[str]:
    """The answered quote, one level deep, without its attribution line."""
    text = [marks.unquote(line).strip() for line in lines]
    kept = [line for line in text if not (marks.WROTE.match(line) or marks.DATE_FIRST.match(line)
                                          or marks.WROTE_TAIL.match(line))]
    while kept and not kept[0]:
        kept.pop(0)
    while kept and not kept[-1]:
        kept.pop()
    return [f"> {line}" if line else ">" for line in kept]


def _forwarded_only(segments: list[Segment]) -> str:
    """A forward with no comment: the forwarded text is what its sender sends the desk."""
    forward = next((s for s in segments if s.kind == Kind.FORWARD), None)
    if forward is None:
        return ""
    return _tidy(list(forward.lines))


def _tidy(lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and (not lines[-1].strip() or marks.RULE.match(lines[-1])):
        lines.pop()
    return "\n".join(line.rstrip() for line in lines).strip("\n")


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
        marked = marks.SEPARATOR.match(line) or marks.BEGIN_FORWARD.match(line)
        start = index + 1 if marked else index if marks.FROM_FIELD.match(line) else None
        if start is None:
            continue
        while start < len(lines) and not lines[start].strip():
            start += 1
        found = _forward_at(lines, index, start)
        if found is not None:
            return found
    return None


def _forward_at(lines: list[str], marker: int, start: int) -> InlineForward | None:
    headers: dict[str, str] = {}
    end = start
    while end < len(lines) and (match := marks.HEADER_FIELD.match(lines[end])):
        headers.setdefault(_canonical(match.group(1)), match.group(2).strip())
        end += 1
    if "from" not in headers or len(headers) < 2:
        return None
    name, email = parseaddr(headers["from"].replace("[mailto:", "<").replace("]", ">"))
    if "@" not in email:
        return None
    return InlineForward(sender=Address(email.lower(), name), subject=headers.get("subject", ""),
                         text="\n".join(lines[end:]).strip(),
                         comment=strip_reply("\n".join(lines[:marker])))


_CANONICAL = {
    "from": ("from", "de", "von", "da", "van", "från", "fra", "od", "от", "mittente"),
    "subject": ("subject", "asunto", "assunto", "objet", "betreff", "oggetto", "onderwerp",
                "ämne", "emne", "temat", "тема"),
    "to": ("to", "para", "à", "a", "an", "aan", "till", "til", "do", "кому", "destinatario"),
}


def _canonical(name: str) -> str:
    key = name.lower().split()[0]
    return next((canon for canon, names in _CANONICAL.items() if key in names), "date")
