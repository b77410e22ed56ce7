"""Read a multipart/report delivery status notification (RFC 3462, RFC 3464).

The stdlib parses message/delivery-status into one header block per part: the first
block is about the message (Original-Envelope-Id), the others are one per recipient.
The original Message-ID comes from the returned message, or its headers, or the envelope
id the desk set when sending (RFC 3461 ENVID), in that order.
"""

from __future__ import annotations

import email
from email.message import Message

from maildesk.mail.addresses import normalise_address
from maildesk.mail.mime import children, decode_header, msg_ids, payload_bytes
from maildesk.types import DeliveryReport

STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
HEADERS_TYPES = ("text/rfc822-headers", "message/rfc822-headers",
                 "message/global-headers")


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return decode_header(value) if value is not None else ""


def _typed_address(value: str) -> str:
    """'rfc822; user@example.com' -> 'user@example.com' (RFC 3464 section 2.3.2)."""
    _, _, address = value.partition(";")
    return normalise_address(address or value)


def _blocks(status_part: Message) -> list[Message]:
    payload = status_part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = payload if isinstance(payload, str) else ""
    return [email.message_from_string(chunk) for chunk in text.split("\n\n") if chunk.strip()]


def _original_id(report: Message, envelope_id: str) -> str | None:
    for part in children(report):
        kind = part.get_content_type()
        if kind == "message/rfc822" and children(part):
            ids = msg_ids(children(part)[0].get("Message-ID"))
        elif kind in HEADERS_TYPES:
            ids = msg_ids(email.message_from_bytes(payload_bytes(part)).get("Message-ID"))
        else:
            continue
        if ids:
            return ids[0]
    ids = msg_ids(envelope_id) or ([envelope_id.strip("<> ")] if envelope_id.strip() else [])
    return ids[0] if ids else None


def _recipients(blocks: list[Message]) -> tuple[str, ...]:
    found = []
    for block in blocks:
        value = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
        if value:
            found.append(_typed_address(value))
    return tuple(dict.fromkeys(found))


def read_report(message: Message) -> DeliveryReport | None:
    """The DeliveryReport of a multipart/report; None for any other message."""
    if message.get_content_type() != "multipart/report" or not message.is_multipart():
        return None
    status = next((p for p in children(message) if p.get_content_type() in STATUS_TYPES), None)
    if status is None:
        return None
    blocks = _blocks(status)
    if not blocks:
        return None
    per_message, per_recipient = blocks[0], blocks[1:] or blocks[:1]
    first = per_recipient[0]
    return DeliveryReport(
        original_message_id=_original_id(message, _field(per_message, "Original-Envelope-Id")),
        recipients=_recipients(per_recipient),
        action=_field(first, "Action").lower(),
        status=_field(first, "Status").split(" ")[0],
        diagnostic=" ".join(_field(first, "Diagnostic-Code").split()),
    )
