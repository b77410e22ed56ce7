"""Ids read from raw mail's header block alone, with little imported.

`maildesk ingest --no-process` runs once per mail and needs only these to store the mail
(the idempotency key and the ids it refers to): the email package's header parser,
without the policy, header registry and MIME machinery that reading a whole mail loads.
mail/mime.py re-exports them.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesHeaderParser

ANGLE_ID = re.compile(r"<\s*([^<>\s]+?)\s*>")
BARE_ID = re.compile(r"[^\s<>(),;\"]+@[^\s<>(),;\"]+")


def msg_ids(value: str | None) -> list[str]:
    """Message ids in a header, without angle brackets, in order, without duplicates.

    Tolerates junk around ids ("see <id> (the ack)") and ids written without brackets.
    """
    if not value:
        return []
    found = ANGLE_ID.findall(value) or BARE_ID.findall(value)
    return list(dict.fromkeys(found))


def _head(data: bytes) -> bytes:
    """The header block, copied alone (not the body, which may be megabytes)."""
    for blank in (b"\r\n\r\n", b"\n\n"):
        end = data.find(blank)
        if end >= 0:
            data = data[:end]
    return data


def header_message_id(data: bytes) -> str | None:
    """The Message-ID read from the header block alone, without <>, or None.

    Used where parsing the whole mail would be wasted (the idempotency key before the
    mail is stored, IMAP reconciliation over header-only fetches). The id is whole: an
    over-long one is bounded where it is stored (store/text.py), with a hash of the whole
    value, so two long ids that share a beginning stay two mails.
    """
    return _message_id(_header_block(data))


def header_ids(data: bytes) -> tuple[str | None, tuple[str, ...]]:
    """The Message-ID and the ids the mail refers to (In-Reply-To, References), read from
    the header block alone: what intake stores so replies are processed after their parent.
    """
    head = _header_block(data)
    refs = msg_ids(" ".join(str(v) for v in head.get_all("In-Reply-To", [])
                            + head.get_all("References", [])))
    own = _message_id(head)
    return own, tuple(r for r in refs if r != own)


def _header_block(data: bytes) -> Message:
    # The default policy is compat32: headers as they came, without the registry.
    return BytesHeaderParser().parsebytes(_head(data))


def _message_id(head: Message) -> str | None:
    value = head.get("Message-ID")
    if not value:
        return None
    return str(value).strip().strip("<>").strip() or None
