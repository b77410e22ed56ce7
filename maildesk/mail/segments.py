"""Pure: a mail's text cut into the author's lines, quoted blocks and quoted history.

The segmenter only calls something history where a client marked it as such: `>` lines,
an attribution ("On … wrote:" and its translations), a separator ("-----Original
Message-----"), or a header block ("From: … / Sent: …"). Everything else is the author's.
See maildesk/mail/quote_marks.py for the marks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from maildesk.mail import quote_marks as marks


class Kind(StrEnum):
    AUTHOR = "author"
    QUOTE = "quote"  # a run of ">" lines
    ATTRIBUTION = "attribution"  # "On … wrote:" above a quote
    HISTORY = "history"  # a separator or header block: the rest of the mail is history
    FORWARD = "forward"  # like history, but opened by a forward marker


@dataclass(frozen=True, slots=True)
class Segment:
    kind: Kind
    lines: tuple[str, ...]

    @property
    def blank(self) -> bool:
        return not any(line.strip() for line in self.lines)


_SENTENCE = re.compile(r"[.!?]\s+[^\W\d_]")  # "… again. On Mon …": text before a header
ATTRIBUTION_LINES = 3  # clients wrap a long "On …, Name <address> wrote:" over 2-3 lines
HEADER_WINDOW = 6  # lines below "From:" in which Sent:/To:/Subject: must appear


def segment(text: str) -> list[Segment]:
    """Cut `text` into consecutive segments, in order (a header written at the end of an
    author's line is split off that line)."""
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[Segment] = []
    author: list[str] = []
    index = 0
    while index < len(lines):
        step = _mark_at(lines, index)
        if step is None:
            author.append(lines[index])
            index += 1
            continue
        kind, length, keep = step
        if author or keep:
            out.append(Segment(Kind.AUTHOR, (*author, *keep)))
            author = []
        out.append(Segment(kind, tuple(lines[index:index + length])))
        index += length
    if author:
        out.append(Segment(Kind.AUTHOR, tuple(author)))
    return out


def _mark_at(lines: list[str], index: int) -> tuple[Kind, int, tuple[str, ...]] | None:
    """(kind, lines it spans, author text found on its first line) for a mark at `index`."""
    line = lines[index]
    if marks.is_quoted(line):
        return Kind.QUOTE, _quote_length(lines, index), ()
    rest = len(lines) - index
    if marks.SEPARATOR.match(line) or marks.BEGIN_FORWARD.match(line):
        forward = marks.FORWARD_SEPARATOR.search(line) is not None
        return (Kind.FORWARD if forward else Kind.HISTORY), rest, ()
    if _header_block_at(lines, index):
        return Kind.HISTORY, rest, ()
    length = attribution_length(lines, index)
    if length and _quote_follows(lines, index + length):
        return Kind.ATTRIBUTION, length, ()
    if marks.WROTE_LOOSE.match(line) and _quote_follows(lines, index + 1):
        return Kind.ATTRIBUTION, 1, ()
    if length and _explicit(lines[index:index + length]):
        return Kind.HISTORY, rest, ()  # "On … wrote:" above history its client did not quote
    inline = marks.WROTE_INLINE.search(line)
    if inline and _quote_follows(lines, index + 1):
        lines[index] = inline.group(1)
        return Kind.ATTRIBUTION, 1, (line[:inline.start()].rstrip(),)
    return None


def _quote_length(lines: list[str], index: int) -> int:
    """A run of ">" lines, with blank lines inside it when more ">" lines follow."""
    end = index
    probe = index
    while probe < len(lines) and (marks.is_quoted(lines[probe]) or not lines[probe].strip()):
        if marks.is_quoted(lines[probe]):
            end = probe + 1
        probe += 1
    return end - index


def _quote_follows(lines: list[str], index: int) -> bool:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index < len(lines) and marks.is_quoted(lines[index])


def attribution_length(lines: list[str], index: int) -> int:
    """How many lines an "On … wrote:" attribution starting at `index` spans (0: none)."""
    first = lines[index].strip()
    if not first or len(first) > 200:
        return 0
    for length in range(1, ATTRIBUTION_LINES + 1):
        window = [line.strip() for line in lines[index:index + length]]
        if len(window) < length or not all(window):
            return 0
        joined = " ".join(window)
        if marks.WROTE.match(joined) or marks.DATE_FIRST.match(joined):
            return length
        if length == 1 and marks.WROTE_TAIL.match(joined) and not _SENTENCE.search(joined):
            return length
    return 0


def _explicit(window: list[str]) -> bool:
    """Only the unmistakable forms may cut unquoted text: an "On … wrote:" with its opening
    word, or Gmail's dated "2014-10-17 11:28 GMT+03:00 Name <address>:"."""
    joined = " ".join(line.strip() for line in window)
    return bool(marks.WROTE.match(joined) or marks.GMAIL_DATED.match(joined))


def _header_block_at(lines: list[str], index: int) -> bool:
    """Outlook's block: a rule or "From:" followed closely by Sent:/Date:, To:, Subject:."""
    start = index
    if marks.RULE.match(lines[index]):
        nxt = index + 1
        while nxt < len(lines) and not lines[nxt].strip():
            nxt += 1
        if nxt >= len(lines) or not marks.FROM_FIELD.match(lines[nxt]):
            return False
        start = nxt
    elif not marks.FROM_FIELD.match(lines[index]):
        return False
    below = lines[start + 1:start + 1 + HEADER_WINDOW]
    dated = any(marks.DATE_FIELD.match(line) for line in below)
    others = sum(1 for line in below if marks.TO_FIELD.match(line)
                 or marks.SUBJECT_FIELD.match(line) or marks.CC_FIELD.match(line))
    return dated or others >= 2
