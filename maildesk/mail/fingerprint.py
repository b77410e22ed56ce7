"""The content fingerprint: what makes two copies of a mail the same mail.

Every hop and every delivery path adds its own trace to a mail: Received and
Return-Path (RFC 5321 4.4), Delivered-To and X-Original-To (local delivery),
Authentication-Results (RFC 8601), ARC-* (RFC 8617), a verifier's DKIM results, a
filter's X-Spam-*, an mbox's Status. The same mail fetched again over IMAP, retried
after a lost 250, or delivered by LMTP once per recipient differs only there, and in
line endings and header folding. The fingerprint hashes the rest, so two copies with the
same Message-ID and the same fingerprint are one mail, and a different fingerprint is a
different mail that reuses the id.

Standard library only: the MTA pipe path (`store/rawpipe.py`) computes it too.
"""

from __future__ import annotations

import hashlib
import re

TRACE_FIELDS = frozenset({
    "received", "x-received", "return-path", "delivered-to", "x-original-to",
    "envelope-to", "x-envelope-to", "x-envelope-from", "authentication-results",
    "x-original-authentication-results", "received-spf", "dkim-signature",
    "domainkey-signature", "x-google-dkim-signature", "x-google-smtp-source",
    "x-gm-message-state", "status", "x-status", "x-keywords", "x-uid", "content-length",
    "lines", "x-virus-scanned", "x-virus-status", "x-mailbox-line",
})
TRACE_PREFIXES = ("arc-", "x-spam-", "x-dkim", "x-ms-exchange-organization-",
                  "x-ms-exchange-crosstenant-", "x-ms-exchange-transport-",
                  "x-forefront-", "x-mimecast-", "x-proofpoint-")
SPACE = re.compile(rb"[ \t]+")


def fingerprint(data: bytes) -> str:
    """SHA-256 (hex) of the mail without its trace fields, line endings and folding."""
    head, body = _split(data.replace(b"\r\n", b"\n"))
    digest = hashlib.sha256()
    for field in _fields(head):
        name, _, value = field.partition(b":")
        name = name.strip().lower()
        if _is_trace(name):
            continue
        digest.update(name + b":" + SPACE.sub(b" ", value).strip() + b"\n")
    digest.update(b"\n")
    digest.update(b"\n".join(line.rstrip(b" \t") for line in body.rstrip().split(b"\n")))
    return digest.hexdigest()


def _split(data: bytes) -> tuple[bytes, bytes]:
    if data.startswith(b"From "):  # an mbox separator line is no part of the mail
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    head, _, body = data.partition(b"\n\n")
    return head, body


def _fields(head: bytes) -> list[bytes]:
    """Header fields unfolded (RFC 5322 2.2.3): continuation lines joined to their field."""
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b" " + line.strip()
        elif line:
            fields.append(line)
    return fields


def _is_trace(name: bytes) -> bool:
    text = name.decode("ascii", "replace")
    return text in TRACE_FIELDS or text.startswith(TRACE_PREFIXES)
