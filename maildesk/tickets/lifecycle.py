"""Status changes with their consequences: SLA clocks, timestamps, the customer's mail.

Every path that changes a ticket's status (agent mail commands, the CLI, timers, survey
answers) goes through here, so the rules are written once: resolving records the
business-time resolution duration; closing sends the closure mail with its survey;
going pending, resolving and reopening tell the customer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from maildesk.kb.articles import draft_on_close
from maildesk.outbox import letters as outbound
from maildesk.outbox.context import ClosureContext, UpdateContext
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Ticket
from maildesk.store.queries import log_event
from maildesk.tickets import operations as tickets
from maildesk.tickets import participants
from maildesk.tickets.links import status_link, survey_links
from maildesk.types import FINISHED_STATES, OPEN_STATES, TicketStatus

CUSTOMER_NOTICE = {TicketStatus.PENDING: "pending", TicketStatus.RESOLVED: "resolved"}


def customer_notice(old: TicketStatus, new: TicketStatus) -> str:
    """What an update mail tells the customer about a status change ("" for nothing)."""
    if new in OPEN_STATES and old in FINISHED_STATES:
        return "reopened"
    return CUSTOMER_NOTICE.get(new, "")


def business_seconds(desk: Desk, start: datetime, end: datetime, paused: int = 0) -> int:
    elapsed = desk.sla.calendar.business_time_between(start, end) - timedelta(seconds=paused)
    return max(0, int(elapsed.total_seconds()))


def record_first_response(desk: Desk, ticket: Ticket, now: datetime) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        ticket.first_response_seconds = business_seconds(desk, ticket.created_at, now)


def change_status(desk: Desk, session: Session, ticket: Ticket, status: TicketStatus, *,
                  actor: str, now: datetime, reason: str = "", notify: bool = True,
                  agent_text: str = "", agent_name: str = "") -> bool:
    """Move `ticket` to `status`; tell the customer when it matters. False if unchanged."""
    old = TicketStatus(ticket.status)
    if not tickets.set_status(session, ticket, status, actor=actor, now=now, reason=reason,
                              sla=desk.sla):
        return False
    if status in FINISHED_STATES and ticket.resolution_seconds is None:
        ticket.resolution_seconds = business_seconds(desk, ticket.created_at, now,
                                                     ticket.paused_seconds)
    if status in OPEN_STATES and old in FINISHED_STATES:
        ticket.resolution_seconds = None
    if status == TicketStatus.CLOSED:
        draft_on_close(session, desk.config.kb, ticket, now, desk.config.desk.language)
    if notify and not ticket.spam:
        _tell_customer(desk, session, ticket, old, status, now, agent_text, agent_name)
    return True


def _tell_customer(desk: Desk, session: Session, ticket: Ticket, old: TicketStatus,
                   status: TicketStatus, now: datetime, agent_text: str,
                   agent_name: str) -> None:
    customer = session.get(Contact, ticket.customer_id)
    assert customer is not None
    if status == TicketStatus.CLOSED:
        context = ClosureContext(ticket_ref=ticket.ref, subject=ticket.subject,
                                 customer_name=customer.name,
                                 survey_links=survey_links(desk, ticket.ref, ticket.brand),
                                 status_url=status_link(desk, ticket.ref, ticket.brand))
        letter = outbound.customer_letter(desk, ticket, customer.email, "closure", context,
                                          cc=participants.copies(desk, session, ticket))
    else:
        notice = customer_notice(old, status)
        if not notice:
            return
        update = UpdateContext(ticket_ref=ticket.ref, subject=ticket.subject,
                                agent_text=agent_text,
                                agent_name=agent_name or outbound.face(desk, ticket).name,
                                customer_name=customer.name, status=notice,
                                status_url=status_link(desk, ticket.ref, ticket.brand))
        letter = outbound.customer_letter(desk, ticket, customer.email, "update", update,
                                          cc=participants.copies(desk, session, ticket))
    outbound.send(desk, session, ticket, letter, now)


def record_satisfaction(session: Session, ticket: Ticket, score: int, comment: str | None, *,
                        actor: str, now: datetime, channel: str) -> None:
    """The last answer wins; each one is kept in the event log."""
    ticket.satisfaction_score = score
    if comment is not None:
        ticket.satisfaction_comment = comment.strip()[:4000] or None
    ticket.satisfaction_at = now
    log_event(session, ticket.id, actor, "satisfaction",
              {"score": score, "comment": ticket.satisfaction_comment, "channel": channel},
              at=now)
