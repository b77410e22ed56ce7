"""Pure: rendered text and thread facts -> a complete RFC 5322 message (Outgoing).

Headers and why:
- Message-ID on the desk's own domain, carrying the ticket ref, so a reply's References
  lead back to the ticket even when the customer's client drops the subject tag.
- In-Reply-To / References chain to the conversation (RFC 5322 3.6.4). References is capped
  to the first id plus the last `REFERENCES_KEEP`, because some servers refuse very long
  headers and the root plus the recent tail is what threading clients use.
- Auto-Submitted (RFC 3834): "auto-replied" for a direct automatic answer (ack, command
  confirmations), "auto-generated" for mail a timer or event produces (reminders,
  notifications, closure), absent on a human agent's reply.
- X-Auto-Response-Suppress: All on every mail, so Exchange does not answer us with
  out-of-office or read receipts.
- No Precedence header: RFC 3834 section 3.1.8 notes it is non-standard and asks
  responders not to rely on it; Auto-Submitted and X-Auto-Response-Suppress cover the
  same ground, and "Precedence: bulk" makes some providers file the mail as bulk.
- Thread-Topic / Thread-Index so that Outlook groups the ticket's mail as one conversation.
- X-Maildesk-Ticket / X-Maildesk-Kind mark our own mail for loop detection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from maildesk.config.model import DeskConfig
from maildesk.mail import thread_index
from maildesk.mail.addresses import normalise_address
from maildesk.mail.subject import PREFIXES
from maildesk.types import Address, Attachment, Outgoing

if TYPE_CHECKING:
    from maildesk.outbox.templates import TemplateStore

REFERENCES_KEEP = 10
HEADER_TICKET = "X-Maildesk-Ticket"
HEADER_KIND = "X-Maildesk-Kind"
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


class AutoSubmitted(StrEnum):
    NO = "no"
    REPLIED = "auto-replied"
    GENERATED = "auto-generated"


DEFAULT_AUTO: dict[str, AutoSubmitted] = {
    "ack": AutoSubmitted.REPLIED,
    "confirm": AutoSubmitted.REPLIED,
    "command_error": AutoSubmitted.REPLIED,
    "update": AutoSubmitted.NO,
}


@dataclass(frozen=True, slots=True)
class Thread:
    """Where the new mail sits in its conversation (ids with or without <>)."""

    in_reply_to: str | None = None
    references: tuple[str, ...] = ()  # oldest first
    thread_index: bytes | None = None  # the parent's whole Thread-Index, when known
    topic: str | None = None


def one_line(value: str) -> str:
    """Control characters (CR, LF, ...) become spaces: a header value stays one header."""
    return " ".join(CONTROL.sub(" ", value).split())


def bare_id(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


def tag_subject(subject: str, ticket_ref: str) -> str:
    """Add `[MD-1042]` once, after any Re:/Fwd: prefixes; never twice."""
    subject = one_line(subject)
    tag = f"[{ticket_ref}]"
    if tag.lower() in subject.lower():
        return subject
    prefix = PREFIXES.match(subject)
    head = prefix.group(0) if prefix else ""
    rest = subject[len(head):]
    return f"{head}{tag} {rest}".strip()


def thread_topic(subject: str, ticket_ref: str) -> str:
    """The subject without reply prefixes and without the tag, as Outlook expects."""
    topic = PREFIXES.sub("", one_line(subject))
    return " ".join(topic.replace(f"[{ticket_ref}]", " ").split())


def chain_references(references: Sequence[str], in_reply_to: str | None,
                     keep: int = REFERENCES_KEEP) -> list[str]:
    """References oldest first, deduplicated, ending in In-Reply-To; first + last `keep`."""
    ids: list[str] = []
    for raw in [*references, *([in_reply_to] if in_reply_to else [])]:
        value = bare_id(raw)
        if value and value in ids:
            ids.remove(value)
        if value:
            ids.append(value)
    return ids if len(ids) <= keep + 1 else [ids[0], *ids[-keep:]]


def new_message_id(ticket_ref: str, kind: str, domain: str) -> str:
    """A unique id on the desk's domain, without angle brackets."""
    idstring = re.sub(r"[^A-Za-z0-9.-]", "-", f"{ticket_ref}.{kind}")
    return bare_id(make_msgid(idstring=idstring, domain=domain))


def header_address(address: Address | str, name: str = "") -> HeaderAddress:
    if isinstance(address, Address):
        return HeaderAddress(display_name=one_line(name or address.name), addr_spec=address.email)
    return HeaderAddress(display_name=one_line(name), addr_spec=address)


def _thread_index(thread: Thread, ticket_ref: str, domain: str, now: datetime) -> bytes:
    if thread.thread_index:
        try:
            return thread_index.reply_index(thread.thread_index, now)
        except ValueError:
            pass  # a malformed index from a foreign client: start our own
    return thread_index.new_header(now, thread_index.conversation_guid(ticket_ref, domain))


@dataclass(frozen=True, slots=True)
class Headers:
    """Everything compose needs for the header block, gathered to keep compose() short."""

    kind: str
    ticket_ref: str
    subject: str
    sender: HeaderAddress
    to: tuple[HeaderAddress, ...]
    cc: tuple[HeaderAddress, ...]
    reply_to: HeaderAddress
    message_id: str
    date: str
    auto: AutoSubmitted
    thread: Thread
    index: bytes


def _set_headers(msg: EmailMessage, h: Headers) -> None:
    msg["From"] = h.sender
    msg["To"] = h.to
    if h.cc:
        msg["Cc"] = h.cc
    msg["Reply-To"] = h.reply_to
    msg["Subject"] = tag_subject(h.subject, h.ticket_ref)
    msg["Date"] = h.date
    msg["Message-ID"] = f"<{h.message_id}>"
    references = chain_references(h.thread.references, h.thread.in_reply_to)
    if h.thread.in_reply_to:
        msg["In-Reply-To"] = f"<{bare_id(h.thread.in_reply_to)}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    if h.auto is not AutoSubmitted.NO:
        msg["Auto-Submitted"] = str(h.auto)
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Thread-Topic"] = one_line(h.thread.topic or thread_topic(h.subject, h.ticket_ref))
    msg["Thread-Index"] = thread_index.encode(h.index)
    msg[HEADER_TICKET] = h.ticket_ref
    msg[HEADER_KIND] = h.kind


def _set_body(msg: EmailMessage, text: str, html: str | None,
              attachments: Sequence[Attachment]) -> None:
    # quoted-printable keeps the mail 7-bit clean for relays without 8BITMIME.
    msg.set_content(text, cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.payload, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=item.filename)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # the email package repeats it on converted parts


def compose(*, kind: str, desk: DeskConfig, ticket_ref: str, to: Sequence[Address | str],
            subject: str, text: str, html: str | None, now: datetime,
            thread: Thread = Thread(), from_name: str | None = None,
            reply_to: str | None = None, cc: Sequence[Address | str] = (),
            attachments: Sequence[Attachment] = (), auto: AutoSubmitted | None = None,
            ticket_id: int | None = None) -> Outgoing:
    """Build the complete message; `now` must be timezone-aware.

    from_name defaults to the desk name ("Ana — Acme Support" for an agent's reply);
    reply_to defaults to the desk address (pass a token address to route replies).
    """
    auto = auto if auto is not None else DEFAULT_AUTO.get(kind, AutoSubmitted.GENERATED)
    h = Headers(
        kind=kind, ticket_ref=ticket_ref, subject=subject,
        sender=header_address(desk.address, from_name or desk.name),
        to=tuple(header_address(a) for a in to), cc=tuple(header_address(a) for a in cc),
        reply_to=header_address(reply_to or desk.address, desk.name),
        message_id=new_message_id(ticket_ref, kind, desk.domain),
        date=format_datetime(now.astimezone(ZoneInfo(desk.timezone))), auto=auto,
        thread=thread, index=_thread_index(thread, ticket_ref, desk.domain, now))
    msg = EmailMessage(policy=policy.SMTP)
    _set_headers(msg, h)
    _set_body(msg, text, html, attachments)
    recipients = tuple(normalise_address(a.addr_spec) for a in (*h.to, *h.cc))
    return Outgoing(kind=kind, recipients=recipients, message_id=h.message_id,
                    data=msg.as_bytes(policy=policy.SMTP),
                    automatic=auto is not AutoSubmitted.NO, ticket_id=ticket_id)


def compose_template(templates: TemplateStore, name: str, lang: str | None, context: Any,
                     **kwargs: Any) -> Outgoing:
    """Render template `name` and compose it; `kind` defaults to the template name."""
    subject, text, html = templates.render(name, lang, context)
    kwargs.setdefault("kind", name)
    return compose(subject=subject, text=text, html=html, **kwargs)
