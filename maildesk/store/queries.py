"""The queries the stages need, in one place, working on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from maildesk.mail.addresses import normalise_address
from maildesk.mail.fingerprint import fingerprint
from maildesk.store import unit
from maildesk.store.models import (
    TICKET_NUMBERS,
    Contact,
    Counter,
    Event,
    Message,
    RawMessage,
    RawReference,
    ThreadKey,
    Ticket,
    utcnow,
)
from maildesk.store.rawpipe import dedup_key, same_mail
from maildesk.store.text import column_length, stored_form
from maildesk.tickets.threader import Lookups, TicketView
from maildesk.types import RawMail, RawState, TicketStatus

KEY_LENGTH = column_length(ThreadKey.__table__.c.key)
REF_LENGTH = column_length(RawReference.__table__.c.ref)


def insert_ignore(session: Session, table: Any, values: dict[str, Any],
                  conflict: Iterable[str], returning: Any = None) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on either engine; returns the RETURNING value."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    if returning is not None:
        return session.execute(stmt.returning(returning)).scalar_one_or_none()
    session.execute(stmt)
    return None


def store_raw(session: Session, raw: RawMail, message_id: str | None,
              refs: Iterable[str] = ()) -> tuple[int, bool]:
    """Insert the raw bytes; return (id, created). A duplicate returns the first copy's id.

    A duplicate is the same mail again: the same Message-ID and the same content once
    trace fields are set aside (rawpipe.dedup_key). A different mail reusing a stored
    Message-ID is stored too, under its variant key. `refs` are the ids the mail refers
    to (mime.header_ids); a new row keeps them, so that processing can wait for the
    earlier mail of the same conversation.
    """
    keys = dedup_key(message_id, raw.data)
    values = dict(dedup_key=keys.first, message_id=message_id, sha256=keys.sha256,
                  fingerprint=keys.fingerprint, data=raw.data,
                  size=len(raw.data), source=str(raw.source), source_ref=raw.source_ref,
                  envelope_from=raw.envelope_from, envelope_to="\n".join(raw.envelope_to),
                  received_at=raw.received_at or utcnow(), state=RawState.RECEIVED)
    table = cast(Table, RawMessage.__table__)
    new_id = insert_ignore(session, table, values, ["dedup_key"], RawMessage.id)
    if new_id is None and message_id is not None:
        same = same_mail(_stored_copies(session, message_id), keys.fingerprint)
        if same is not None:
            return same, False
        values["dedup_key"] = keys.variant
        new_id = insert_ignore(session, table, values, ["dedup_key"], RawMessage.id)
    if new_id is not None:
        forms = dict.fromkeys(stored_form(r, REF_LENGTH) for r in refs if r)
        if forms:
            session.execute(insert(RawReference),
                            [{"raw_id": new_id, "ref": ref} for ref in forms])
        return new_id, True
    existing = session.execute(select(RawMessage.id).where(RawMessage.dedup_key == keys.variant))
    return existing.scalar_one(), False


def _stored_copies(session: Session, message_id: str) -> list[tuple[int, str]]:
    """(id, fingerprint) of every stored mail with this Message-ID, oldest first."""
    rows = session.execute(select(RawMessage.id, RawMessage.fingerprint)
                           .where(RawMessage.message_id == message_id)
                           .order_by(RawMessage.id)).all()
    copies = []
    for raw_id, fp in rows:
        if fp is None:  # stored before fingerprints were kept
            data = session.execute(select(RawMessage.data).where(RawMessage.id == raw_id))
            fp = fingerprint(data.scalar_one())
        copies.append((raw_id, fp))
    return copies


def earlier_with_message_id(session: Session, raw_id: int) -> RawMessage | None:
    """The first mail stored before this one with the same Message-ID (a reused id)."""
    mid = select(RawMessage.message_id).where(RawMessage.id == raw_id).scalar_subquery()
    return session.execute(select(RawMessage).where(
        RawMessage.message_id == mid, RawMessage.id < raw_id)
        .order_by(RawMessage.id).limit(1)).scalar_one_or_none()


def next_number(session: Session, name: str = "ticket") -> int:
    """Next value of a counter: unique and increasing, with gaps allowed.

    PostgreSQL: nextval() of the ticket sequence, which locks nothing until the end of
    the transaction, so concurrent daemons open tickets in parallel (a rolled-back mail
    leaves a gap). SQLite: the `counters` row, updated in the caller's transaction, which
    already holds the database's single write lock (BEGIN IMMEDIATE), so this adds no
    waiting; a transaction of its own would wait on that very lock.
    """
    if name == "ticket" and session.get_bind().dialect.name == "postgresql":
        return int(session.execute(select(TICKET_NUMBERS.next_value())).scalar_one())
    stmt = (update(Counter).where(Counter.name == name).values(value=Counter.value + 1)
            .returning(Counter.value))
    value = session.execute(stmt).scalar_one_or_none()
    if value is None:  # first use: create the row, then take the first value under its lock
        insert_ignore(session, Counter.__table__, {"name": name, "value": 0}, ["name"])
        value = session.execute(stmt).scalar_one()
    return int(value)


def get_or_create_contact(session: Session, email: str, name: str,
                          organisation: str | None) -> Contact:
    """The contact of `email`, created on first sight (concurrent creators agree).

    A contact this transaction already loaded (the ticket's customer, read by the
    threader) is taken from the session; a new one is inserted and loaded in one
    INSERT ... RETURNING.
    """
    contact = _loaded_contact(session, email) or session.execute(
        select(Contact).where(Contact.email == email)).scalar_one_or_none()
    if contact is not None:
        if name and not contact.name:
            contact.name = name
        return contact
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    created = session.scalars(
        insert(Contact).values(email=email, name=name, organisation=organisation,
                               created_at=utcnow(), vip=False)
        .on_conflict_do_nothing(index_elements=["email"]).returning(Contact)).one_or_none()
    return created or session.execute(select(Contact).where(Contact.email == email)).scalar_one()


def _loaded_contact(session: Session, email: str) -> Contact | None:
    for obj in session.identity_map.values():
        if isinstance(obj, Contact) and obj.email == email:
            return obj
    return None


def add_thread_keys(session: Session, ticket_id: int, keys: Iterable[str], kind: str) -> None:
    """Point `keys` at the ticket, in one statement; a key already known keeps its ticket."""
    add_keys(session, ticket_id, [(key, kind) for key in keys])


def add_keys(session: Session, ticket_id: int, pairs: Iterable[tuple[str, str]]) -> None:
    """(key, kind) pairs of one ticket in one INSERT ... ON CONFLICT DO NOTHING."""
    rows = [{"key": key, "kind": kind, "ticket_id": ticket_id}
            for key, kind in dict.fromkeys(p for p in pairs if p[0])]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(cast(Table, ThreadKey.__table__)).values(rows)
                    .on_conflict_do_nothing(index_elements=["key", "kind"]))


def log_event(session: Session, ticket_id: int, actor: str, action: str,
              detail: Mapping[str, Any] | None = None, reason: str = "",
              at: datetime | None = None) -> None:
    """Append to the ticket's log, written with the transaction's other events (see
    store/unit.py). A session opened by the API (session.info["via"]) marks every event
    it logs with where the change came from."""
    detail = dict(detail or {})
    if session.info.get("via"):
        detail.setdefault("via", session.info["via"])
    values = dict(ticket_id=ticket_id, actor=actor, action=action, detail=detail,
                  reason=reason, at=at or utcnow())
    if unit.buffered(session):
        unit.add_event(session, values)
    else:
        session.add(Event(**values))


def ticket_parties(session: Session, ticket: Ticket, agents: Iterable[str] = ()) -> frozenset[str]:
    """Everyone who took part: the customer, senders and CCs of its mail, agents."""
    parties = {normalise_address(a) for a in agents}
    customer = session.get(Contact, ticket.customer_id)
    if customer is not None:
        parties.add(customer.email)
    if ticket.assignee:
        parties.add(normalise_address(ticket.assignee))
    rows = session.execute(select(Message.from_addr, Message.cc_addrs, Message.direction)
                           .where(Message.ticket_id == ticket.id))
    for from_addr, cc, direction in rows:
        if direction == "in":
            parties.add(from_addr)
            parties.update(cc or [])
    parties.update(ticket.watchers or [])
    return frozenset(p for p in parties if p)


def ticket_view(session: Session, ticket: Ticket | None,
                agents: Iterable[str] = ()) -> TicketView | None:
    if ticket is None:
        return None
    customer = session.get(Contact, ticket.customer_id)
    return TicketView(id=ticket.id, ref=ticket.ref, status=TicketStatus(ticket.status),
                      customer=customer.email if customer else "",
                      organisation=ticket.organisation,
                      parties=ticket_parties(session, ticket, agents),
                      closed_at=ticket.closed_at, last_activity_at=ticket.last_activity_at,
                      merged_into=ticket.merged_into_id)


SUBJECT_CANDIDATES = 5  # enough to show an agent the choice a weak match refused


def make_lookups(session: Session, agents: Iterable[str] = ()) -> Lookups:
    """Bind the threader's lookups to a session."""
    agents = tuple(agents)

    def by_message_ids(ids: Iterable[str]) -> dict[str, int]:
        # An over-long id is stored in a bounded form: map the rows back to the ids asked.
        asked = {stored_form(i, KEY_LENGTH): i for i in ids}
        rows = session.execute(select(ThreadKey.key, ThreadKey.ticket_id)
                               .where(ThreadKey.key.in_(list(asked)),
                                      ThreadKey.kind.in_(("own", "sent", "alias"))))
        return {asked[key]: ticket_id for key, ticket_id in rows if key in asked}

    def by_thread_index(hexkey: str) -> int | None:
        return session.execute(select(ThreadKey.ticket_id).where(
            ThreadKey.key == hexkey, ThreadKey.kind == "thread-index")).scalar_one_or_none()

    def by_ref(ref: str) -> TicketView | None:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one_or_none()
        return ticket_view(session, ticket, agents)

    def by_id(ticket_id: int) -> TicketView | None:
        return ticket_view(session, session.get(Ticket, ticket_id), agents)

    def recent_by_subject(normalized: str, sender: str, org: str | None,
                          since: datetime) -> list[TicketView]:
        who = Contact.email == sender
        if org is not None:
            who = who | (Ticket.organisation == org)
        rows = session.execute(
            select(Ticket).join(Contact, Contact.id == Ticket.customer_id)
            .where(Ticket.normalized_subject == normalized, Ticket.last_activity_at >= since, who)
            .order_by(Ticket.last_activity_at.desc(), Ticket.id.desc())
            .limit(SUBJECT_CANDIDATES)).scalars().all()
        return [view for view in (ticket_view(session, t, agents) for t in rows) if view]

    return Lookups(by_message_ids, by_thread_index, by_ref, by_id, recent_by_subject)
