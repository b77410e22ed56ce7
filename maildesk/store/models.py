"""The schema, as SQLAlchemy 2.x declarative models (migrations live in store/migrations)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Sequence,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from maildesk.store.text import BoundedString, CleanText


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the engine stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Counter(Base):
    """Monotonic counters (ticket numbers) incremented with UPDATE ... RETURNING."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(BoundedString(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class RawMessage(Base):
    """Mail exactly as received, committed before any other processing."""

    __tablename__ = "raw_messages"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(BoundedString(1000), unique=True)
    message_id: Mapped[str | None] = mapped_column(BoundedString(998), index=True)
    sha256: Mapped[str] = mapped_column(BoundedString(64))
    # SHA-256 of the content without trace fields (mail/fingerprint.py): with message_id,
    # what tells the same mail delivered again from a different mail reusing the id.
    # NULL for mail stored before it was kept.
    fingerprint: Mapped[str | None] = mapped_column(BoundedString(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(BoundedString(16))
    source_ref: Mapped[str | None] = mapped_column(BoundedString(500))
    envelope_from: Mapped[str | None] = mapped_column(BoundedString(500))
    envelope_to: Mapped[str] = mapped_column(CleanText, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(BoundedString(16), default="received", index=True)
    error: Mapped[str | None] = mapped_column(CleanText)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # bytes removed ([retention])


class RawReference(Base):
    """A Message-ID a stored mail refers to (In-Reply-To, References), read from its header
    at intake, so that a reply is processed only after the earlier mail it answers."""

    __tablename__ = "raw_references"
    raw_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("raw_messages.id", ondelete="CASCADE"), primary_key=True)
    ref: Mapped[str] = mapped_column(BoundedString(998), primary_key=True)


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(BoundedString(500), unique=True)
    name: Mapped[str] = mapped_column(BoundedString(500), default="")
    organisation: Mapped[str | None] = mapped_column(BoundedString(255), index=True)
    language: Mapped[str | None] = mapped_column(BoundedString(16))
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    ref: Mapped[str] = mapped_column(BoundedString(64), unique=True)
    status: Mapped[str] = mapped_column(BoundedString(16), default="new", index=True)
    type: Mapped[str] = mapped_column(BoundedString(16), default="question")
    priority: Mapped[str] = mapped_column(BoundedString(16), default="P3")
    impact: Mapped[str | None] = mapped_column(BoundedString(16))
    urgency: Mapped[str | None] = mapped_column(BoundedString(16))
    queue: Mapped[str] = mapped_column(BoundedString(100), default="general", index=True)
    team: Mapped[str | None] = mapped_column(BoundedString(100))
    tier: Mapped[int] = mapped_column(Integer, default=1)
    assignee: Mapped[str | None] = mapped_column(BoundedString(500), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    organisation: Mapped[str | None] = mapped_column(BoundedString(255), index=True)
    subject: Mapped[str] = mapped_column(CleanText, default="")
    normalized_subject: Mapped[str] = mapped_column(BoundedString(500), default="", index=True)
    language: Mapped[str | None] = mapped_column(BoundedString(16))
    channel: Mapped[str] = mapped_column(BoundedString(16), default="pipe")
    brand: Mapped[str | None] = mapped_column(BoundedString(64), index=True)  # [[brands]] name
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    watchers: Mapped[list[str]] = mapped_column(JSON, default=list)
    spam: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_template: Mapped[str | None] = mapped_column(BoundedString(100))
    sla_policy: Mapped[str | None] = mapped_column(BoundedString(100))
    related_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # Set when the ticket was merged into another (status "merged"): mail to it goes there.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", name="fk_tickets_merged_into"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # Business-time durations, computed when the moment happens so reports can aggregate
    # them in SQL without replaying calendars.
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction_score: Mapped[int | None] = mapped_column(Integer)
    satisfaction_comment: Mapped[str | None] = mapped_column(CleanText)
    satisfaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_messages.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(BoundedString(998), index=True)
    direction: Mapped[str] = mapped_column(BoundedString(4))
    kind: Mapped[str] = mapped_column(BoundedString(16))
    from_addr: Mapped[str] = mapped_column(BoundedString(500), default="")
    from_name: Mapped[str] = mapped_column(BoundedString(500), default="")
    to_addrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    cc_addrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(CleanText, default="")
    text: Mapped[str] = mapped_column(CleanText, default="")
    html: Mapped[str | None] = mapped_column(CleanText)
    date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    thread_method: Mapped[str] = mapped_column(BoundedString(16), default="new")
    weak_match: Mapped[bool] = mapped_column(Boolean, default=False)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # needs human review
    flag_reason: Mapped[str | None] = mapped_column(CleanText)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    agent: Mapped[str | None] = mapped_column(BoundedString(500))
    outbox_id: Mapped[int | None] = mapped_column(Integer)


class ThreadKey(Base):
    """Every Message-ID the desk has seen or sent, plus aliases, pointing to a ticket.

    kind: 'own' for a message stored on the ticket, 'sent' for one the desk sent,
    'alias' for an unknown ID a ticket's mail referenced, 'thread-index' for an Outlook
    conversation id (hex).
    """

    __tablename__ = "thread_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(BoundedString(998))
    kind: Mapped[str] = mapped_column(BoundedString(16))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    __table_args__ = (UniqueConstraint("key", "kind", name="uq_thread_keys_key_kind"),)


class Blob(Base):
    """Attachment content, stored once on disk under its SHA-256."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(BoundedString(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # file removed


class AttachmentRow(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    filename: Mapped[str] = mapped_column(BoundedString(255))
    content_type: Mapped[str] = mapped_column(BoundedString(255))
    size: Mapped[int] = mapped_column(BigInteger)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str | None] = mapped_column(BoundedString(500))


class Event(Base):
    """Append-only log of every change to a ticket: who, what and why."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(BoundedString(500))  # "system", "rule:NAME", agent email, ...
    action: Mapped[str] = mapped_column(BoundedString(64), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(CleanText, default="")


class TimeEntry(Base):
    """Time an agent spent on a ticket (`#time 30m`, `maildesk tickets time`), in minutes."""

    __tablename__ = "time_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    agent: Mapped[str] = mapped_column(BoundedString(500))
    minutes: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    source: Mapped[str] = mapped_column(BoundedString(16), default="mail")


class Outbox(Base):
    """Mail to send, written in the same transaction as the event that causes it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(BoundedString(32))
    message_id: Mapped[str] = mapped_column(BoundedString(998), unique=True)
    sender: Mapped[str] = mapped_column(BoundedString(500))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    to_addr: Mapped[str] = mapped_column(BoundedString(500), default="", index=True)  # first recipient
    # The first recipient without a +tag, and its domain: what the loop limits count by.
    to_base: Mapped[str] = mapped_column(BoundedString(500), default="", server_default="")
    to_domain: Mapped[str] = mapped_column(BoundedString(255), default="", server_default="")
    # The message as sent (column `data`); NULL until the sender builds it from `draft`,
    # which holds the rendered parts and headers decided at queueing (outbox.compose).
    built: Mapped[bytes | None] = mapped_column("data", LargeBinary, nullable=True)
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(BoundedString(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(CleanText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @hybrid_property
    def data(self) -> bytes:
        """The complete message: as built by the sender, else built now from the draft
        (the same headers and text; only the MIME boundary differs)."""
        if self.built is not None:
            return self.built
        from maildesk.outbox.compose import Draft, render  # the MIME builder, used rarely

        assert self.draft is not None, f"outbox {self.id} has neither data nor draft"
        return render(Draft.from_json(self.draft))

    @data.inplace.setter
    def _data_setter(self, value: bytes) -> None:
        """Bytes written over the message (an erasure) replace the draft too: nothing of
        the old text is kept, and these bytes are what is sent."""
        self.built, self.draft = value, None

    @data.inplace.expression
    @classmethod
    def _data_expression(cls) -> Any:
        return cls.built


class Participant(Base):
    """Someone besides the customer who takes part in a ticket (a Cc'd colleague).

    Answers to the customer are copied to the active ones. A removed participant keeps
    its row (removed_at set) so that later mail copying them does not add them again;
    only an agent adds them back.
    """

    __tablename__ = "participants"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    email: Mapped[str] = mapped_column(BoundedString(500))
    name: Mapped[str] = mapped_column(BoundedString(500), default="")
    source: Mapped[str] = mapped_column(BoundedString(32), default="mail")
    added_by: Mapped[str] = mapped_column(BoundedString(500), default="system")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(BoundedString(500))
    __table_args__ = (UniqueConstraint("ticket_id", "email", name="uq_participants_ticket_email"),)


class Delivery(Base):
    """One recipient of one outbox mail: whether it reached them (sent, refused, bounced)."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    email: Mapped[str] = mapped_column(BoundedString(500), index=True)
    role: Mapped[str] = mapped_column(BoundedString(8), default="to")  # to, cc
    state: Mapped[str] = mapped_column(BoundedString(16), default="queued")
    error: Mapped[str | None] = mapped_column(CleanText)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suppression(Base):
    """Addresses the desk must not mail automatically (hard bounces), until a time."""

    __tablename__ = "suppressions"
    email: Mapped[str] = mapped_column(BoundedString(500), primary_key=True)
    reason: Mapped[str] = mapped_column(CleanText)
    until: Mapped[datetime] = mapped_column(UTCDateTime)


class ImapState(Base):
    """Per account and folder: the UIDVALIDITY seen and the highest UID committed."""

    __tablename__ = "imap_state"
    account: Mapped[str] = mapped_column(BoundedString(255), primary_key=True)
    folder: Mapped[str] = mapped_column(BoundedString(255), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)


class TimerMark(Base):
    """One row per timer action done, so that each runs once even with several daemons."""

    __tablename__ = "timer_marks"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(BoundedString(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "due_at", name="uq_timer_marks"),)


class DaemonStatus(Base):
    """Heartbeat and per-source counters of each running daemon, for `maildesk status`."""

    __tablename__ = "daemon_status"
    name: Mapped[str] = mapped_column(BoundedString(255), primary_key=True)  # host:pid
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(CleanText)


class Article(Base):
    """A knowledge-base article, drafted from a documented solution."""

    __tablename__ = "kb_articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(CleanText)
    problem: Mapped[str] = mapped_column(CleanText, default="")
    solution: Mapped[str] = mapped_column(CleanText, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(BoundedString(16), default="en")
    state: Mapped[str] = mapped_column(BoundedString(16), default="draft", index=True)
    source_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_tickets_customer_activity", Ticket.customer_id, Ticket.last_activity_at)
Index("ix_outbox_due", Outbox.state, Outbox.next_attempt_at)
# The lookups made for every mail: weak-subject threading and the loop-limit windows.
# Each filters on equality then ranges over a time, so they stay flat as tables grow.
Index("ix_tickets_subject_activity", Ticket.normalized_subject, Ticket.last_activity_at)
Index("ix_outbox_to_created", Outbox.to_addr, Outbox.created_at)
Index("ix_outbox_ticket_created", Outbox.ticket_id, Outbox.created_at)

# PostgreSQL numbers tickets from this sequence (owned by tickets.number, see the
# perf_indexes migration): nextval() takes no lock a concurrent daemon waits on. SQLite
# has no sequences and keeps the `counters` row.
TICKET_NUMBERS = Sequence("ticket_number_seq", metadata=Base.metadata)
Index("ix_outbox_to_base_created", Outbox.to_base, Outbox.created_at)
Index("ix_outbox_to_domain_created", Outbox.to_domain, Outbox.created_at)


class ApiToken(Base):
    """A per-agent API token; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent: Mapped[str] = mapped_column(BoundedString(500), index=True)
    token_hash: Mapped[str] = mapped_column(BoundedString(64), unique=True)
    prefix: Mapped[str] = mapped_column(BoundedString(16))  # shown in `api token list`
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One event for one hook, queued in the transaction that logged the event.

    `body` is the exact JSON sent (and signed), so every attempt sends the same bytes.
    """

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    hook: Mapped[str] = mapped_column(BoundedString(100))
    event: Mapped[str] = mapped_column(BoundedString(32))
    event_id: Mapped[str] = mapped_column(BoundedString(64))
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(CleanText)
    state: Mapped[str] = mapped_column(BoundedString(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(CleanText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookState(Base):
    """Per hook: consecutive failures, and since when it is paused (None: running)."""

    __tablename__ = "webhook_state"
    hook: Mapped[str] = mapped_column(BoundedString(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(CleanText)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# The worker takes each hook's oldest queued delivery: per-hook order.
Index("ix_webhook_deliveries_hook_state", WebhookDelivery.hook, WebhookDelivery.state,
      WebhookDelivery.id)


Index("ix_raw_messages_source_received", RawMessage.source, RawMessage.received_at)
