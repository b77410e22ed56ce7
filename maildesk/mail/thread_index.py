"""Outlook's Thread-Index header ([MS-OXOMSG] 2.2.1.3, PidTagConversationIndex).

A conversation starts with a 22-byte header block: the top 6 bytes of the current
FILETIME (100 ns ticks since 1601, big-endian; its first byte is 0x01 for any date in this
era, which is why the spec calls it "reserved") followed by a 16-byte GUID. Each reply
appends a 5-byte child block holding the time elapsed since the header. Outlook groups
messages by the GUID, so the desk derives it from the ticket: every mail of one ticket
lands in one Outlook conversation even when the customer's own client sent none.
"""

from __future__ import annotations

import base64
import os
import struct
import uuid
from datetime import UTC, datetime

HEADER_LENGTH = 22
CHILD_LENGTH = 5
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
NAMESPACE = uuid.UUID("6f1c4a52-8d0b-4d6e-9a57-2a3c1f0e9b11")  # maildesk's, fixed forever


def filetime(moment: datetime) -> int:
    """100-nanosecond ticks since 1601-01-01 UTC."""
    delta = moment.astimezone(UTC) - FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def conversation_guid(ticket_ref: str, domain: str) -> bytes:
    """A stable GUID per ticket, so every mail of the ticket shares one conversation."""
    return uuid.uuid5(NAMESPACE, f"{ticket_ref.upper()}@{domain.lower()}").bytes


def new_header(moment: datetime, guid: bytes) -> bytes:
    """The 22-byte header block: 6 bytes of FILETIME, then the 16-byte GUID."""
    if len(guid) != 16:
        raise ValueError("a Thread-Index GUID has 16 bytes")
    return struct.pack(">Q", filetime(moment))[:6] + guid


def child_block(parent: bytes, moment: datetime) -> bytes:
    """The 5-byte block a reply appends to its parent's Thread-Index.

    Bit 0 picks the resolution of the 31-bit delta: 0 keeps bits 18..48 of the time since
    the header (about 1.7 years in steps of 26 ms), 1 keeps bits 23..53. The last byte is 4
    random bits and a 4-bit sequence count, as Outlook writes them.
    """
    header_time = struct.unpack(">Q", parent[:6] + b"\0\0")[0]
    delta = max(0, filetime(moment) - header_time)
    if delta < (1 << 49):
        word = (delta >> 18) & 0x7FFFFFFF
    else:
        word = (1 << 31) | ((delta >> 23) & 0x7FFFFFFF)
    return struct.pack(">I", word) + bytes([os.urandom(1)[0] & 0xF0])


def reply_index(parent: bytes, moment: datetime) -> bytes:
    """The parent's Thread-Index with one child block appended."""
    if len(parent) < HEADER_LENGTH or (len(parent) - HEADER_LENGTH) % CHILD_LENGTH:
        raise ValueError("not a Thread-Index: 22 bytes plus 5 per reply")
    return parent + child_block(parent, moment)


def encode(index: bytes) -> str:
    return base64.b64encode(index).decode("ascii")


def decode(value: str) -> bytes | None:
    """The bytes of a Thread-Index header value, or None when it is not one."""
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (ValueError, TypeError):
        return None
    if len(raw) < HEADER_LENGTH or (len(raw) - HEADER_LENGTH) % CHILD_LENGTH:
        return None
    return raw


def conversation(value: str | None) -> bytes | None:
    """The 22-byte header block that names the conversation, or None when not a Thread-Index."""
    index = decode(value) if value else None
    return index[:HEADER_LENGTH] if index is not None else None
