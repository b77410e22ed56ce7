"""Parse raw mail bytes into a ParsedMail; the only module that imports mailparser.

mail-parser does the main parse: it builds the message tree once from the bytes, parses
the address headers (display names decoded in their lexical context), the Date header
and collects the defects. Its body text, though, mixes in the text of forwarded and
report parts and decodes a wrong charset into replacement characters, so the bodies and
attachments are taken from a walk over the same tree it built: nothing is parsed twice.

Memory: the email package holds a body as one str built from a list of line strs, several
times the size of the mail for a big attachment. So long runs of base64 lines (an
attachment's body) are set aside before parsing: the parser sees a short stand-in line,
and the part's bytes are decoded straight from the mail's own buffer when the walk
reaches it. A 34 MB mail with a 25 MB attachment costs the mail plus the decoded file,
not ten times the mail.
"""

from __future__ import annotations

import binascii
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message

import inscriptis
import mailparser
import nh3
from mailparser.exceptions import MailParserError

from maildesk.errors import PermanentFailure
from maildesk.mail import thread_index
from maildesk.mail.addresses import normalise_address
from maildesk.mail.dsn import HEADERS_TYPES, STATUS_TYPES, read_report
from maildesk.mail.mime import (
    children,
    decode_bytes,
    decode_header,
    msg_ids,
    param,
    payload_bytes,
    repair_surrogates,
    return_path,
    safe_filename,
    tidy_text,
    unescape_surrogates,
    unflow,
)
from maildesk.types import Address, Attachment, ParsedMail

log = logging.getLogger(__name__)
# mail-parser logs a warning for every part type it does not render as text (DSN parts);
# those are handled here, so its warnings would only be noise in the daemon's log.
logging.getLogger("mailparser").setLevel(logging.ERROR)

MAX_DEPTH = 8  # forwarded-in-forwarded levels parsed before they become plain attachments
URL_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid"}  # keep inline images (RFC 2392)
# dir and lang on any tag: Gmail's <div dir="ltr"> and right-to-left text must survive.
HTML_ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()} | {
    "*": {"dir", "lang"}, "div": {"style"}}
# The marks by which clients tell quoted history apart (read by mail/quotes_html.py): only
# these class names, ids and values survive, and of a style only its top border (Outlook).
QUOTE_CLASSES = {"div": {"gmail_quote", "gmail_quote_container", "gmail_attr", "gmail_signature",
                         "moz-cite-prefix", "moz-signature", "yahoo_quoted"},
                 "blockquote": {"gmail_quote"}}
QUOTE_VALUES = {"blockquote": {"type": {"cite"}},
                "div": {"id": {"divRplyFwdMsg", "appendonsend", "Signature"}}}
ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
SKIPPED_TYPES = STATUS_TYPES + HEADERS_TYPES
# An attachment's body: at least ASIDE_LINES lines of base64 (about 38 KB), with its last,
# shorter line. Only such runs are set aside; everything else is parsed as it came.
ASIDE_LINES = 512
BASE64_RUN = re.compile(rb"(?<=\n)(?>(?:[A-Za-z0-9+/]{60,}+={0,2}+\r?\n){%d,}+)"
                        rb"(?:[A-Za-z0-9+/]{1,59}={0,2}\r?\n)?" % ASIDE_LINES)
_ASIDE: ContextVar[dict[str, memoryview]] = ContextVar("maildesk_parse_aside")
# What mail-parser raises on shapes it does not expect, besides its own errors.
MAILPARSER_CRASHES = (MailParserError, RecursionError, AttributeError, TypeError, ValueError,
                      LookupError, UnicodeError)


@dataclass(slots=True)
class _Body:
    """What the walk over one message's parts collects (internal to this module)."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[ParsedMail] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    winmail: bool = False


def parse(data: bytes) -> ParsedMail:
    """Parse one message; raise PermanentFailure when nothing useful can be extracted."""
    skeleton, aside = set_aside(data)
    with _stand_ins(aside):
        try:
            parser = mailparser.MailParser.from_bytes(skeleton)
        except MAILPARSER_CRASHES as exc:
            raise PermanentFailure(f"unparseable mail: {exc}") from exc
        del skeleton
        if not parser.message.keys():
            raise PermanentFailure("no header fields: this is not an RFC 5322 message")
        return _parsed(parser, depth=0)


def set_aside(data: bytes) -> tuple[bytes, dict[str, memoryview]]:
    """The mail with each long base64 run replaced by a stand-in line, and the runs.

    A stand-in is itself valid base64 (so no part gains a defect from it) and carries a
    random nonce, so a mail cannot name another part's run.
    """
    runs = list(BASE64_RUN.finditer(data))
    if not runs:
        return data, {}
    nonce = secrets.token_hex(8)
    view, start = memoryview(data), 0
    pieces: list[bytes | memoryview] = []
    aside: dict[str, memoryview] = {}
    for number, run in enumerate(runs):
        token = f"MaildeskAside{nonce}N{number}".ljust(40, "A")
        aside[token] = view[run.start():run.end()]
        pieces += [view[start:run.start()], token.encode() + b"\n"]
        start = run.end()
    pieces.append(view[start:])
    return b"".join(pieces), aside


@contextmanager
def _stand_ins(aside: dict[str, memoryview]) -> Iterator[None]:
    token = _ASIDE.set(aside)
    try:
        yield
    finally:
        _ASIDE.reset(token)


def _payload(part: Message) -> bytes:
    """payload_bytes, with a set-aside run decoded from the mail's buffer."""
    aside = _ASIDE.get({})
    raw = part.get_payload() if aside else None
    if not isinstance(raw, str) or "MaildeskAside" not in raw:
        return payload_bytes(part)
    found = aside.get(raw.strip())
    if found is not None and part.get("content-transfer-encoding", "").strip().lower() \
            == "base64":
        try:
            return binascii.a2b_base64(found)
        except binascii.Error:
            pass  # bad padding: let the email package decode it as it always did
    for name, run in aside.items():  # a run inside other text: put it back
        raw = raw.replace(name + "\n", bytes(run).decode("ascii"))
    part.set_payload(raw)
    return payload_bytes(part)


def _parsed(parser: mailparser.MailParser, depth: int) -> ParsedMail:
    message: Message = parser.message
    headers = _headers(message)
    first = dict(reversed(headers))  # first occurrence wins
    body = _Body()
    _walk(message, body, depth)
    html = "\n".join(body.htmls) if body.htmls else None
    return ParsedMail(
        message_id=next(iter(msg_ids(first.get("message-id"))), None),
        subject=first.get("subject", ""),
        from_addr=next(iter(_addresses(parser, message, "from")), None),
        to=_addresses(parser, message, "to"),
        cc=_addresses(parser, message, "cc"),
        reply_to=_addresses(parser, message, "reply-to"),
        date=_date(parser),
        in_reply_to=tuple(msg_ids(first.get("in-reply-to"))),
        references=tuple(msg_ids(" ".join(v for k, v in headers if k == "references"))),
        headers=headers,
        text=_text(body, html),
        html=_clean_html(html),
        attachments=tuple(body.attachments),
        thread_index=thread_index.conversation(first.get("thread-index")),
        forwarded=tuple(body.forwarded),
        report=read_report(message),
        has_winmail_dat=body.winmail,
        defects=_defects(parser) + tuple(body.notes),
        return_path=return_path(first.get("return-path")),
    )


def _headers(message: Message) -> tuple[tuple[str, str], ...]:
    return tuple((repair_surrogates(name).strip().lower(), decode_header(value))
                 for name, value in message.raw_items())


def _addresses(parser: mailparser.MailParser, message: Message,
               name: str) -> tuple[Address, ...]:
    """Addresses as mail-parser read them, with a last-chance scan of a broken header."""
    pairs = getattr(parser, name.replace("-", "_") + "_")  # from_, to_, reply_to_
    found = [Address(normalise_address(email), unescape_surrogates(display).strip())
             for display, email in pairs if "@" in email]
    if not found and message.get(name):
        raw = decode_header(message.get(name, ""))
        found = [Address(normalise_address(match)) for match in ADDRESS.findall(raw)]
    return tuple(dict.fromkeys(found))


def _date(parser: mailparser.MailParser) -> datetime | None:
    value = parser.date
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _defects(parser: mailparser.MailParser) -> tuple[str, ...]:
    """mail-parser's defects as strings, minus its charset notes (bodies are decoded here)."""
    out: list[str] = []
    for entry in parser.defects:
        for items in entry.values():
            out.extend(str(item) for item in items if "CharsetDecodeDefect" not in str(item))
    return tuple(dict.fromkeys(out))


def _clean_html(html: str | None) -> str | None:
    """Sanitised HTML, safe to show to an agent; None when the mail had no HTML part."""
    if html is None:
        return None
    return nh3.clean(html, attributes=HTML_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     allowed_classes=QUOTE_CLASSES, tag_attribute_values=QUOTE_VALUES,
                     filter_style_properties={"border-top"}).strip()


def _text(body: _Body, html: str | None) -> str:
    text = "\n".join(t.strip("\n") for t in body.texts if t.strip())
    if not text and html:
        text = tidy_text(inscriptis.get_text(html))
    return text.strip()


def _walk(part: Message, body: _Body, depth: int) -> None:
    """Sort each leaf into text, HTML, attachment or forwarded message."""
    kind = part.get_content_type()
    if kind == "message/rfc822":
        _forwarded(part, body, depth)
    elif part.is_multipart():
        for child in children(part):
            _walk(child, body, depth)
    elif kind in SKIPPED_TYPES:
        return  # read by dsn.read_report
    elif _is_body_text(part, kind):
        _body_text(part, kind, body)
    else:
        _attachment(part, kind, body)


def _is_body_text(part: Message, kind: str) -> bool:
    if kind not in ("text/plain", "text/html"):
        return False
    return part.get_content_disposition() != "attachment" and not part.get_filename()


def _body_text(part: Message, kind: str, body: _Body) -> None:
    charset = part.get_content_charset()
    text, fallback = decode_bytes(_payload(part), charset)
    if fallback:
        body.notes.append(f"CharsetFallback: {kind} declared {charset!r}, decoded as {fallback}")
    text = text.replace("\r\n", "\n")
    if kind == "text/html":
        body.htmls.append(text)
        return
    if param(part, "format") == "flowed":
        text = unflow(text, param(part, "delsp") == "yes")
    body.texts.append(text)


def _attachment(part: Message, kind: str, body: _Body) -> None:
    raw_id = decode_header(part.get("Content-ID", ""))
    content_id = next(iter(msg_ids(raw_id)), None) or raw_id.strip("<> ") or None
    disposition = part.get_content_disposition()
    filename = safe_filename(_raw_filename(part), kind)
    body.winmail |= kind == "application/ms-tnef" or filename.lower() == "winmail.dat"
    body.attachments.append(Attachment(
        filename=filename, content_type=kind, payload=_payload(part), content_id=content_id,
        inline=disposition == "inline" or (disposition is None and content_id is not None),
    ))


def _raw_filename(part: Message) -> str | None:
    """filename= or else name=, with RFC 2231 continuations and charset applied."""
    try:
        return part.get_filename()
    except (LookupError, UnicodeError, ValueError):
        return None


def _forwarded(part: Message, body: _Body, depth: int) -> None:
    """An attached message/rfc822 is parsed as a mail of its own (recursively)."""
    inner = next(iter(children(part)), None)
    if inner is None or depth >= MAX_DEPTH:
        _attachment(part, "message/rfc822", body)
        return
    parser = _inner_parser(inner)
    if parser is None:
        body.notes.append("ForwardedUnparsed: an attached message kept as an attachment")
        _attachment(part, "message/rfc822", body)
        return
    body.forwarded.append(_parsed(parser, depth + 1))


def _inner_parser(inner: Message) -> mailparser.MailParser | None:
    """mail-parser over an attached message, or None when it cannot read it.

    mail-parser expects what the parser sets on a top-level message: an attached empty
    multipart (CPython's msg_42) has no epilogue and crashes it, so such a message is
    parsed again from its own bytes, where the stdlib gives it one.
    """
    try:
        return mailparser.MailParser(inner)
    except MAILPARSER_CRASHES:
        log.debug("attached message: mail-parser failed on the tree; parsing its bytes")
    try:
        return mailparser.MailParser.from_bytes(inner.as_bytes())
    except MAILPARSER_CRASHES:
        return None
