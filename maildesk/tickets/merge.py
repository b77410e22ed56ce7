"""Merge one ticket into another, and undo it while nothing new happened on the target.

A merge moves the source's messages (and with them their attachments and the people who
wrote or were copied: the parties), its thread keys (own and sent Message-IDs, aliases,
Outlook conversations), its tags and watchers into the target. The source keeps its row
and its events, with status `merged` and `merged_into_id` pointing at the target, so mail
that names it by tag or token lands in the target too (tickets/threader.py follows the
pointer). Nothing is sent to any customer.

What moved is recorded on the source's "merged" event, which is what `unmerge` puts back.
Unmerging is refused once anything happened on the target after the merge (an event
logged there after its "merged-in" event): the two histories can no longer be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from maildesk.errors import MaildeskError
from maildesk.store.models import Event, Message, ThreadKey, Ticket
from maildesk.store.queries import log_event
from maildesk.types import TicketStatus


class RepairRefused(MaildeskError):
    """A merge, unmerge, split or move that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class Merged:
    source: str
    target: str
    messages: int
    keys: int


def live_ticket(session: Session, ticket: Ticket) -> Ticket:
    """The ticket a merged ticket now lives in (itself when it was never merged)."""
    for _ in range(10):  # merge refuses chains into merged tickets; this is only a guard
        if ticket.merged_into_id is None:
            break
        target = session.get(Ticket, ticket.merged_into_id)
        if target is None:
            break
        ticket = target
    return ticket


def merge_problem(source: Ticket, target: Ticket) -> str | None:
    """Why `source` cannot be merged into `target`, or None."""
    if source.id == target.id:
        return f"{source.ref} cannot be merged into itself"
    if source.status == TicketStatus.MERGED:
        return f"{source.ref} is already merged into another ticket"
    if target.status == TicketStatus.MERGED:
        return f"{target.ref} is itself merged into another ticket; merge into that one"
    return None


def _ids(session: Session, column: Any, ticket_id: int) -> list[int]:
    table = column.class_
    return list(session.execute(select(column).where(table.ticket_id == ticket_id)
                                .order_by(column)).scalars())


def merge(session: Session, source: Ticket, target: Ticket, *, actor: str,
          now: datetime, reason: str = "") -> Merged:
    """Move everything of `source` into `target`; the source points at the target."""
    problem = merge_problem(source, target)
    if problem:
        raise RepairRefused(problem)
    messages = _ids(session, Message.id, source.id)
    keys = _ids(session, ThreadKey.id, source.id)
    session.execute(update(Message).where(Message.id.in_(messages)).values(ticket_id=target.id))
    session.execute(update(ThreadKey).where(ThreadKey.id.in_(keys)).values(ticket_id=target.id))
    tags = sorted(set(source.tags or []) - set(target.tags or []))
    watchers = sorted(set(source.watchers or []) - set(target.watchers or []))
    record = {"into": target.ref, "into_id": target.id, "messages": messages, "keys": keys,
              "tags": tags, "watchers": watchers, "status": source.status,
              "target_last_activity_at": target.last_activity_at.isoformat()}
    target.tags = sorted(set(target.tags or []) | set(tags))
    target.watchers = sorted(set(target.watchers or []) | set(watchers))
    target.last_activity_at = max(target.last_activity_at, source.last_activity_at)
    target.updated_at = source.updated_at = now
    source.status, source.merged_into_id = TicketStatus.MERGED, target.id
    log_event(session, source.id, actor, "merged", record,
              reason or f"merged into {target.ref}", at=now)
    session.flush()  # the target's event is the last thing the merge writes
    log_event(session, target.id, actor, "merged-in",
              {"from": source.ref, "from_id": source.id, "messages": len(messages)},
              reason or f"{source.ref} merged into this ticket", at=now)
    session.flush()
    return Merged(source.ref, target.ref, len(messages), len(keys))


def _last(session: Session, ticket_id: int, action: str) -> Event | None:
    return session.execute(select(Event).where(Event.ticket_id == ticket_id,
                                               Event.action == action)
                           .order_by(Event.id.desc()).limit(1)).scalar_one_or_none()


def unmerge_problem(session: Session, source: Ticket) -> str | None:
    """Why the merge of `source` cannot be undone, or None."""
    if source.status != TicketStatus.MERGED or source.merged_into_id is None:
        return (f"{source.ref} is not merged (status {source.status}); "
                "give the reference of the ticket that was merged away")
    merged = _last(session, source.id, "merged")
    marker = _last(session, source.merged_into_id, "merged-in")
    target = session.get(Ticket, source.merged_into_id)
    if merged is None or marker is None or target is None \
            or marker.detail.get("from_id") != source.id:
        return (f"{source.ref}: its merge into {target.ref if target else '?'} is not the "
                "last one recorded on the target; undo the later merges first")
    later = session.execute(select(Event.action).where(
        Event.ticket_id == target.id, Event.id > marker.id).order_by(Event.id)).scalars().all()
    if later:
        shown = ", ".join(dict.fromkeys(later))
        return (f"cannot unmerge {source.ref}: {target.ref} changed after the merge "
                f"({len(later)} event{'s' if len(later) != 1 else ''}: {shown}); unmerge "
                "is only possible while nothing new happened on the target; "
                f"use `maildesk tickets move` to move single messages back")
    return None


def unmerge(session: Session, source: Ticket, *, actor: str, now: datetime) -> Merged:
    """Put back what the merge of `source` moved, and give it its status again."""
    problem = unmerge_problem(session, source)
    if problem:
        raise RepairRefused(problem)
    record = _last(session, source.id, "merged")
    target = session.get(Ticket, source.merged_into_id)
    assert record is not None and target is not None
    detail = record.detail
    messages, keys = detail.get("messages", []), detail.get("keys", [])
    session.execute(update(Message).where(Message.id.in_(messages),
                                          Message.ticket_id == target.id)
                    .values(ticket_id=source.id))
    session.execute(update(ThreadKey).where(ThreadKey.id.in_(keys),
                                            ThreadKey.ticket_id == target.id)
                    .values(ticket_id=source.id))
    target.tags = sorted(set(target.tags or []) - set(detail.get("tags", [])))
    target.watchers = sorted(set(target.watchers or []) - set(detail.get("watchers", [])))
    if detail.get("target_last_activity_at"):
        target.last_activity_at = datetime.fromisoformat(detail["target_last_activity_at"])
    source.status, source.merged_into_id = detail.get("status", TicketStatus.OPEN), None
    source.updated_at = target.updated_at = now
    log_event(session, source.id, actor, "unmerged", {"from": target.ref},
              f"taken back out of {target.ref}", at=now)
    log_event(session, target.id, actor, "unmerged", {"ticket": source.ref},
              f"{source.ref} taken back out of this ticket", at=now)
    session.flush()
    return Merged(source.ref, target.ref, len(messages), len(keys))
