"""The web form at /new, without I/O: read the fields, find what is wrong, build the mail.

A submission becomes an ordinary RFC 5322 message (From the given address, To the desk),
so it runs through exactly the pipeline mail does: rules, threading, acknowledgement and
SLA. Its Message-ID is derived from the form's signed token, so posting the same page
twice (a double click, a reload) is one mail, deduplicated like any other.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime

from maildesk.mail.addresses import normalise_address
from maildesk.types import Attachment

FIELDS = ("name", "email", "subject", "description")
HONEYPOT = "website"  # hidden from people; bots fill every field
LIMITS = {"name": 200, "email": 254, "subject": 200, "description": 20000}
MAX_FILES = 10
EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
                   r"\.[A-Za-z]{2,}$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Submission:
    """What was posted: the text fields (stripped) and the attached files."""

    values: Mapping[str, str]
    files: tuple[Attachment, ...] = ()
    honeypot: bool = False

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    @property
    def email(self) -> str:
        return normalise_address(self.get("email"))


@dataclass(frozen=True, slots=True)
class Problems:
    """Field name -> message key (texts in web/pages.py); empty when the form is good."""

    fields: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.fields)


def clean(value: str, multiline: bool = False) -> str:
    """Control characters out; a single-line field loses its line breaks too."""
    value = CONTROL.sub("", value.replace("\r\n", "\n"))
    return value.strip() if multiline else " ".join(value.split())


def check(submission: Submission) -> Problems:
    """Which fields are missing, too long or malformed."""
    found: dict[str, str] = {}
    for key in ("name", "email", "subject", "description"):
        value = submission.get(key)
        if not value:
            found[key] = "required"
        elif len(value) > LIMITS[key]:
            found[key] = "too_long"
    if "email" not in found and not EMAIL.match(submission.email):
        found["email"] = "bad_email"
    if len(submission.files) > MAX_FILES:
        found["attachments"] = "too_many_files"
    return Problems(found)


def message_id(token: str, domain: str) -> str:
    """One id per rendered form: posting the same page again is the same mail."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:32]
    return f"<web.{digest}@{domain}>"


def build_mail(submission: Submission, *, to: str, token: str, now: datetime,
               language: str) -> bytes:
    """The submission as a mail from the customer to the desk (source `web`)."""
    msg = EmailMessage()
    msg["From"] = HeaderAddress(display_name=submission.get("name"),
                                addr_spec=submission.email)
    msg["To"] = to
    msg["Subject"] = submission.get("subject")
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(token, to.rpartition("@")[2])
    msg["Content-Language"] = language
    msg["X-Maildesk-Source"] = "web"
    msg.set_content(submission.get("description") + "\n")
    for file in submission.files:
        maintype, _, subtype = file.content_type.partition("/")
        msg.add_attachment(file.payload, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=file.filename)
    return msg.as_bytes()


def pick_language(query: str | None, accept_language: str | None, default: str) -> str:
    """?lang= first, then the browser's Accept-Language (by q-value), then the desk's."""
    if query in ("en", "es"):
        return query
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().partition("-")[0]
        if primary not in ("en", "es"):
            continue
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        if q > 0 and (best is None or q > best[0]):
            best = (q, primary)
    return best[1] if best else (default if default in ("en", "es") else "en")
