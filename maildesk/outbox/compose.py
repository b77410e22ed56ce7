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
class Draft:
    """Everything the MIME of one mail is built from, decided when it is queued.

    The Message-ID, the date and the threading headers are fixed here (the desk threads
    replies by the Message-ID from the moment the row is written) and so are the rendered
    subject and bodies, so a template or rules reload never changes a queued mail. Plain
    values only, so it can be stored as JSON in the outbox row and built into MIME by
    the sender (`render`). Addresses are (display name, address) pairs.
    """

    kind: str
    ticket_ref: str
    subject: str
    text: str
    html: str | None
    sender: tuple[str, str]
    to: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]
    reply_to: tuple[str, str]
    message_id: str
    date: str
    auto: AutoSubmitted
    in_reply_to: str | None
    references: tuple[str, ...]
    topic: str | None
    index: str  # the new Thread-Index, hex

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(normalise_address(email) for _, email in (*self.to, *self.cc))

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        pairs = ("to", "cc")
        values: dict[str, Any] = {k: tuple(tuple(p) for p in v) if k in pairs else v
                                  for k, v in data.items()}
        values["sender"], values["reply_to"] = tuple(data["sender"]), tuple(data["reply_to"])
        values["references"], values["auto"] = tuple(data["references"]), \
            AutoSubmitted(data["auto"])
        return cls(**values)


def _pair(address: Address | str, name: str = "") -> tuple[str, str]:
    header = header_address(address, name)
    return header.display_name, header.addr_spec


def _header(pair: tuple[str, str]) -> HeaderAddress:
    return HeaderAddress(display_name=pair[0], addr_spec=pair[1])


def _set_headers(msg: EmailMessage, d: Draft) -> None:
    msg["From"] = _header(d.sender)
    msg["To"] = tuple(_header(a) for a in d.to)
    if d.cc:
        msg["Cc"] = tuple(_header(a) for a in d.cc)
    msg["Reply-To"] = _header(d.reply_to)
    msg["Subject"] = tag_subject(d.subject, d.ticket_ref)
    msg["Date"] = d.date
    msg["Message-ID"] = f"<{d.message_id}>"
    references = chain_references(d.references, d.in_reply_to)
    if d.in_reply_to:
        msg["In-Reply-To"] = f"<{bare_id(d.in_reply_to)}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    if d.auto is not AutoSubmitted.NO:
        msg["Auto-Submitted"] = str(d.auto)
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Thread-Topic"] = one_line(d.topic or thread_topic(d.subject, d.ticket_ref))
    msg["Thread-Index"] = thread_index.encode(bytes.fromhex(d.index))
    msg[HEADER_TICKET] = d.ticket_ref
    msg[HEADER_KIND] = d.kind


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


def draft(*, kind: str, desk: DeskConfig, ticket_ref: str, to: Sequence[Address | str],
          subject: str, text: str, html: str | None, now: datetime,
          thread: Thread = Thread(), from_name: str | None = None,
          reply_to: str | None = None, cc: Sequence[Address | str] = (),
          auto: AutoSubmitted | None = None) -> Draft:
    """Decide the mail's headers (cheap); `now` must be timezone-aware.

    from_name defaults to the desk name ("Ana — Acme Support" for an agent's reply);
    reply_to defaults to the desk address (pass a token address to route replies).
    """
    auto = auto if auto is not None else DEFAULT_AUTO.get(kind, AutoSubmitted.GENERATED)
    return Draft(
        kind=kind, ticket_ref=ticket_ref, subject=subject, text=text, html=html,
        sender=_pair(desk.address, from_name or desk.name),
        to=tuple(_pair(a) for a in to), cc=tuple(_pair(a) for a in cc),
        reply_to=_pair(reply_to or desk.address, desk.name),
        message_id=new_message_id(ticket_ref, kind, desk.domain),
        date=format_datetime(now.astimezone(ZoneInfo(desk.timezone))), auto=auto,
        in_reply_to=thread.in_reply_to, references=tuple(thread.references),
        topic=thread.topic, index=_thread_index(thread, ticket_ref, desk.domain, now).hex())


def render(d: Draft, attachments: Sequence[Attachment] = ()) -> bytes:
    """Build the complete RFC 5322 message of a draft (the costly part of composing)."""
    msg = EmailMessage(policy=policy.SMTP)
    _set_headers(msg, d)
    _set_body(msg, d.text, d.html, attachments)
    return msg.as_bytes(policy=policy.SMTP)


def compose(*, attachments: Sequence[Attachment] = (), ticket_id: int | None = None,
            lazy: bool = False, **kwargs: Any) -> Outgoing:
    """Draft the mail and build its MIME now, or with `lazy` leave the MIME to the sender
    (`Outgoing.data` None, `Outgoing.draft` set). Mail with attachments is always built
    now: their bytes are not kept in the draft. Arguments as `draft`.
    """
    d = draft(**kwargs)
    later = lazy and not attachments
    return Outgoing(kind=d.kind, recipients=d.recipients, message_id=d.message_id,
                    data=None if later else render(d, attachments),
                    automatic=d.auto is not AutoSubmitted.NO, ticket_id=ticket_id,
                    draft=d.as_json() if later else None)


def compose_template(templates: TemplateStore, name: str, lang: str | None, context: Any,
                     **kwargs: Any) -> Outgoing:
    """Render template `name` and compose it; `kind` defaults to the template name."""
    subject, text, html = templates.render(name, lang, context)
    kwargs.setdefault("kind", name)
    return compose(subject=subject, text=text, html=html, **kwargs)
