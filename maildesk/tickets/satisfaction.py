"""Satisfaction answers: read a score from a reply, record it, tell the lead about low ones.

Both ways a customer answers the closure mail's survey end here: a reply whose first
line is a number (stages/survey.py) and a one-click link (web.py). The last answer wins;
every answer stays in the event log (lifecycle.record_satisfaction).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from maildesk.outbox.context import EscalationContext
from maildesk.runtime.desk import Desk
from maildesk.sla.actions import language_of, mail_agents, team_lead
from maildesk.store.models import Contact, Ticket
from maildesk.store.queries import log_event
from maildesk.tickets import lifecycle

# "5", "5/5", "5 - great", "4: ok", "Puntuación: 4", "Score: 2/5". A number followed by
# words without punctuation ("3 printers still fail") is a message, not a score.
SCORE = re.compile(r"^(?:[^\W\d_][\w ]{0,30}:\s*)?([1-5])(?:\s*/\s*5)?"
                   r"(?:\s*[-–—:.,!)]+\s*(?P<rest>.*?)|\s*)$")
QUOTE_HEADER = re.compile(r"^(?:on .+wrote:|el .+escribió:|-+\s*original message\s*-+|"
                          r"-+\s*mensaje original\s*-+|from:\s|de:\s)", re.IGNORECASE)
LOW_SCORE_REASON = {"en": "low satisfaction score: {score}/5",
                    "es": "valoración baja: {score}/5"}


def parse_score(text: str) -> tuple[int, str] | None:
    """(score, comment) when the first line that is not quoted is just a 1-5 score.

    The comment is the rest of that line and the lines after it, up to the quoted
    original or a signature.
    """
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    first = next((i for i, line in enumerate(lines) if line and not line.startswith(">")),
                 None)
    if first is None:
        return None
    match = SCORE.match(lines[first])
    if match is None:
        return None
    comment = [match.group("rest") or ""]
    for line in lines[first + 1:]:
        if line.startswith(">") or line == "--" or QUOTE_HEADER.match(line):
            break
        comment.append(line)
    return int(match.group(1)), "\n".join(comment).strip()


def record(desk: Desk, session: Session, ticket: Ticket, score: int, comment: str | None, *,
           actor: str, now: Any, channel: str) -> None:
    """Keep the answer; a new low score (at or below [sla] low_score) tells the team lead."""
    changed = ticket.satisfaction_score != score
    lifecycle.record_satisfaction(session, ticket, score, comment, actor=actor, now=now,
                                  channel=channel)
    if changed and score <= desk.config.sla.low_score:
        notify_low_score(desk, session, ticket, score, now)


def notify_low_score(desk: Desk, session: Session, ticket: Ticket, score: int, now: Any) -> None:
    """The escalation template, to the lead of the ticket's team (else its members, else
    the assignee): a low score deserves a look, but is not a new tier."""
    recipients = team_lead(desk.ruleset, ticket.team) or (
        [ticket.assignee] if ticket.assignee else [])
    customer = session.get(Contact, ticket.customer_id)

    def context(agent: Any) -> EscalationContext:
        reason = LOW_SCORE_REASON[language_of(desk, agent)].format(score=score)
        if ticket.satisfaction_comment:
            reason += f" ({ticket.satisfaction_comment[:300]})"
        return EscalationContext(
            ticket_ref=ticket.ref, subject=ticket.subject,
            customer_name=(customer.name or customer.email) if customer else "",
            reason=reason, lead_name=getattr(agent, "name", ""), priority=ticket.priority,
            queue=ticket.queue, assignee=ticket.assignee or "",
            level=max(1, ticket.escalation_level))

    mail_agents(desk, session, ticket, recipients, "escalation", context, now)
    log_event(session, ticket.id, "system", "low-score", {"score": score, "to": recipients},
              at=now)
