"""Pure helpers for parse.py: charsets, header values, message ids, filenames.

Real mail lies about its charset and carries raw 8-bit bytes where RFC 5322 allows only
ASCII, so every decode here follows one rule: try what the mail declares, strictly, then
UTF-8, then windows-1252, and never raise. Nothing here imports mailparser (STYLE.md:
parse.py is the only module that does).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
import unicodedata
from email.message import Message
from email.utils import collapse_rfc2231_value

from maildesk.mail.addresses import normalise_address

# The header-block readers live in mail/headers.py (light enough for the pipe) and are
# re-exported here, where the rest of the mail code finds them.
from maildesk.mail.headers import header_ids as header_ids
from maildesk.mail.headers import header_message_id as header_message_id
from maildesk.mail.headers import msg_ids as msg_ids

# WHATWG Encoding: these labels mean windows-1252 in practice (Outlook writes curly
# quotes as 0x93/0x94 under an iso-8859-1 label); cp1252 is a superset for text.
CHARSET_ALIASES = {
    "iso-8859-1": "windows-1252", "iso8859-1": "windows-1252", "latin1": "windows-1252",
    "latin-1": "windows-1252", "l1": "windows-1252", "cp1252": "windows-1252",
    "us-ascii": "ascii", "ansi_x3.4-1968": "ascii", "unknown-8bit": "utf-8", "x-unknown": "utf-8",
}
FALLBACKS = ("utf-8", "windows-1252")
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t\r\n]+(?==\?)")
FOLD = re.compile(r"\r?\n(?=[ \t])")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FILENAME_MAX = 150


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip('"').lower().split("*", 1)[0]  # RFC 2231 "utf-8*es"
    return CHARSET_ALIASES.get(name, name)


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode text bytes; returns (text, note) where note says which fallback was needed."""
    declared = _codec(charset)
    for codec in (declared, *FALLBACKS):
        if codec is None:
            continue
        try:
            text = data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
        return text, None if codec == declared or declared is None and codec == "utf-8" else codec
    return data.decode("windows-1252", "replace"), "windows-1252 with replacements"


def repair_surrogates(text: str) -> str:
    """Turn raw 8-bit header bytes (kept by the stdlib as surrogate escapes) into text."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        return decode_bytes(raw, "utf-8")[0]


def unescape_surrogates(text: str) -> str:
    """Undo a backslash-escaped 8-bit byte ("\\udcf3", as mail-parser writes it) into text."""
    if "\\udc" not in text:
        return text
    escaped = re.sub(r"\\udc([89a-fA-F][0-9a-fA-F])",
                     lambda m: chr(0xDC00 + int(m.group(1), 16)), text)
    return repair_surrogates(escaped)


def tidy_text(text: str) -> str:
    """Drop trailing blanks on each line and runs of blank lines (HTML layout leftovers)."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, payload = match.groups()
    try:
        if encoding in "qQ":
            data = re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                          payload.replace("_", " ").encode("ascii", "replace"))
        else:
            data = base64.b64decode(payload + "=" * (-len(payload) % 4))
    except (binascii.Error, ValueError):
        return match.group(0)
    return decode_bytes(data, charset)[0]


def decode_header(value: str) -> str:
    """Unfold a raw header value and decode RFC 2047 encoded-words and 8-bit bytes.

    Whitespace between two adjacent encoded-words is dropped (RFC 2047 section 6.2),
    so a subject split over several words reads as one string.
    """
    value = repair_surrogates(FOLD.sub("", str(value)))
    if "=?" in value:
        value = ENCODED_WORD.sub(_decode_word, BETWEEN_WORDS.sub("", value))
    return value.replace("\r", "").replace("\n", " ").strip()


def return_path(value: str | None) -> str | None:
    """None when absent, "" for the null sender <> (RFC 5321 bounces), else the address."""
    if value is None:
        return None
    inner = value.strip()
    match = re.search(r"<([^<>]*)>", inner)
    if match:
        inner = match.group(1)
    return normalise_address(inner)


def _clean_name(name: str) -> str:
    name = decode_header(name) if "=?" in name else repair_surrogates(name)
    name = re.split(r"[/\\]", name)[-1]  # no path components, from any OS
    name = CONTROL.sub("", unicodedata.normalize("NFC", name))
    return name.strip().lstrip(".").strip()


def _cap(name: str) -> str:
    if len(name) <= FILENAME_MAX:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        return name[:FILENAME_MAX]
    return stem[: FILENAME_MAX - len(ext) - 1] + "." + ext


def safe_filename(name: str | None, content_type: str) -> str:
    """A filename safe to show and store: base name only, no control chars, capped length.

    Missing or emptied names get "attachment" plus an extension guessed from the type.
    """
    cleaned = _clean_name(name) if name else ""
    if not cleaned:
        ext = ".eml" if content_type == "message/rfc822" else (
            mimetypes.guess_extension(content_type) or ".bin")
        cleaned = "attachment" + ext
    return _cap(cleaned)


def unflow(text: str, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676), leaving quotes intact."""
    out: list[str] = []
    joining = False
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if joining and out:
            out[-1] += line
        else:
            out.append(line)
        joining = line.endswith(" ") and line != "-- " and not line.startswith(">")
        if joining and delsp:
            out[-1] = out[-1][:-1]
    return "\n".join(out)


def children(part: Message) -> list[Message]:
    """The sub-parts of a multipart or message/* part (an empty list for a leaf)."""
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def payload_bytes(part: Message) -> bytes:
    """The part's body with its Content-Transfer-Encoding undone (b"" when there is none)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def param(part: Message, name: str) -> str:
    """A Content-Type parameter as a lower-case string, RFC 2231 values collapsed."""
    value = part.get_param(name)
    if value is None:
        return ""
    return str(collapse_rfc2231_value(value) if isinstance(value, tuple) else value).lower()
