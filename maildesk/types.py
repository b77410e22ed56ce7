"""The values that flow between stages: RawMail, ParsedMail, ThreadMatch, Decision, Outgoing.

Every value is a frozen, slotted dataclass and every state a StrEnum, so a stage can be
called directly from a test with plain values and nothing mutates behind its back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    SMTP = "smtp"
    LMTP = "lmtp"
    IMAP = "imap"
    PIPE = "pipe"
    IMPORT = "import"
    CLI = "cli"
    WEB = "web"  # the web form at /new


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"  # folded into another ticket (tickets.merged_into_id); neither open nor done


# The one place that says which states are still being worked on and which are done
# (reports, the timer pass, reopening and notices all ask these two).
OPEN_STATES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)
FINISHED_STATES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class TicketType(StrEnum):
    INCIDENT = "incident"
    QUESTION = "question"
    REQUEST = "request"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"
    NOTE = "note"


class ThreadMethod(StrEnum):
    """Which threading step attached a message to its ticket (recorded on every message)."""

    HEADERS = "headers"  # In-Reply-To / References matched a known Message-ID
    THREAD_INDEX = "thread-index"  # Outlook's Thread-Index named a known conversation
    SUBJECT_TAG = "subject-tag"  # [MD-1042] in the subject, from a party to the ticket
    ADDRESS_TOKEN = "address-token"  # support+MD-1042@ in a recipient address
    SUBJECT = "subject"  # weak: reply prefix + same normalised subject, same customer/org
    NEW = "new"  # opened a new ticket


class RawState(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    QUARANTINED = "quarantined"
    IGNORED = "ignored"


class OutboxState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"
    HELD = "held"  # an agent's answer that collided with another agent's: #send or #drop
    DROPPED = "dropped"  # a held answer the agent discarded


@dataclass(frozen=True, slots=True)
class RawMail:
    """Bytes exactly as received, with the envelope and where they came from."""

    data: bytes
    source: Source
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    source_ref: str | None = None  # e.g. "imap:account/INBOX/uidvalidity/uid"
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Address:
    email: str  # lower-cased addr-spec
    name: str = ""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str  # already sanitised
    content_type: str
    payload: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a multipart/report DSN (RFC 3464) says about a mail that bounced."""

    original_message_id: str | None
    recipients: tuple[str, ...]
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # e.g. 5.1.1
    diagnostic: str = ""

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """A message after parsing: decoded headers, text, HTML, attachments."""

    message_id: str | None  # without angle brackets
    subject: str
    from_addr: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    date: datetime | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # (lower-case name, decoded value), in order
    text: str = ""  # the plain text body (from HTML when the mail had no text part)
    html: str | None = None  # sanitised HTML, when the mail had an HTML part
    attachments: tuple[Attachment, ...] = ()
    thread_index: bytes | None = None  # the 22-byte conversation prefix of Thread-Index
    forwarded: tuple[ParsedMail, ...] = ()  # attached message/rfc822 parts
    report: DeliveryReport | None = None
    has_winmail_dat: bool = False
    defects: tuple[str, ...] = ()
    return_path: str | None = None  # None when absent; "" for the null sender <>

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitively, or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    """Where a message belongs: an existing ticket, or a new one (ticket_id None)."""

    ticket_id: int | None
    method: ThreadMethod
    weak: bool = False
    related_ticket_id: int | None = None  # a closed ticket or possible duplicate to link
    reopen: bool = False
    note: str = ""
    # What matched, in words an admin can check: the Message-ID, tag, token or subject.
    evidence: str = ""
    # Tickets a weak match could not choose between: the new ticket is linked to them.
    candidates: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Assignment:
    agent: str | None = None  # agent email
    team: str | None = None
    strategy: str = "round-robin"  # round-robin, least-open, skill
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: str
    file: str
    line: int
    matched: tuple[str, ...]  # human descriptions of the conditions that matched
    actions: tuple[str, ...]  # human descriptions of what the rule set


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules decided for a message; None means 'leave as it is'."""

    type: TicketType | None = None
    priority: str | None = None
    impact: str | None = None
    urgency: str | None = None
    queue: str | None = None
    tags: tuple[str, ...] = ()
    assign: Assignment | None = None
    watchers: tuple[str, ...] = ()
    ack_template: str | None = None  # template name; "none" means send no acknowledgement
    language: str | None = None
    spam: bool = False
    escalate: bool = False
    sla: str | None = None  # name of an SLA policy
    hits: tuple[RuleHit, ...] = field(default=())
    rules_version: str = ""  # the rule set that decided (Desk.version), for the event log


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One mail the desk wants to send: composed, or drafted for the sender to build."""

    kind: str  # ack, update, notify, closure, confirm, error, reminder, ...
    recipients: tuple[str, ...]
    message_id: str
    data: bytes | None  # the complete RFC 5322 message; None while only drafted
    automatic: bool = True
    ticket_id: int | None = None
    draft: Mapping[str, Any] | None = None  # outbox.compose.Draft as JSON, when data is None
