"""#merge, #split and #move from an agent's mail: checked with the rest, then applied.

The agent's own mail stays on the ticket it was written on (so a merge takes it along,
and a split or move leaves it with the history it talks about). The rest of the mail (other
commands, an answer) then acts on the ticket the repair leads to: the target of a merge
or a move, the new ticket of a split. Without an answer the customers get no mail.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from maildesk.agents.actions import Work, execute
from maildesk.agents.commands import Plan, describe
from maildesk.agents.repairs import RepairKind, RepairRequest
from maildesk.runtime.desk import Desk
from maildesk.store.models import Message, Ticket
from maildesk.store.queries import log_event
from maildesk.tickets import merge as merging
from maildesk.tickets import operations as tickets
from maildesk.tickets import split as splitting
from maildesk.tickets.threader import candidate_ids
from maildesk.types import AuthorKind, Direction, ParsedMail


def referenced_message(session: Session, ticket: Ticket, mail: ParsedMail) -> Message | None:
    """The customer-side mail of `ticket` the agent answered: the notification they reply
    to answers it, so it is the nearest referenced id that is a received, public message."""
    ids = candidate_ids(mail)
    if not ids:
        return None
    rows = session.execute(select(Message).where(
        Message.ticket_id == ticket.id, Message.message_id.in_(ids),
        Message.direction == Direction.IN, Message.internal.is_(False))).scalars().all()
    found = {m.message_id: m for m in rows}
    return next((found[i] for i in ids if i in found), None)


def check_repair(session: Session, ticket: Ticket, mail: ParsedMail,
                 plan: Plan) -> tuple[str, ...]:
    """What only the database can tell about a repair: does the target exist, may it be done."""
    request = plan.repair
    if request is None:
        return ()
    problem = _problem(session, ticket, mail, request)
    return (f"#{request.kind}: {problem}",) if problem else ()


def _problem(session: Session, ticket: Ticket, mail: ParsedMail,
             request: RepairRequest) -> str | None:
    target = tickets.find_ticket_by_ref(session, request.ref) if request.ref else None
    if request.ref and target is None:
        return f"no ticket {request.ref}"
    if request.kind is RepairKind.MERGE:
        assert target is not None
        return merging.merge_problem(ticket, target)
    message = referenced_message(session, ticket, mail)
    if message is None:
        return (f"reply to the notification of the message to {request.kind} "
                f"(this reply quotes no customer mail of {ticket.ref})")
    if request.kind is RepairKind.SPLIT:
        return splitting.split_problem(session, ticket, message, request.following)
    assert target is not None
    return splitting.move_problem(session, message, target)


def repair_by_mail(desk: Desk, session: Session, ticket: Ticket, work: Work, plan: Plan,
                   body: str) -> tuple[Ticket, tuple[str, ...]]:
    """Keep the agent's mail, do the repair, then the rest of the plan on where it leads."""
    request = plan.repair
    assert request is not None
    _keep(desk, session, ticket, work, request, plan)
    result, line = _apply(desk, session, ticket, work, request)
    rest = replace(plan, repair=None)
    done = [line]
    if rest.changes_something or body.strip():
        quiet = replace(work, raw_id=None, mail=replace(work.mail, message_id=None))
        done.extend(execute(desk, session, result, quiet, rest, body))
    return result, tuple(done)


def _keep(desk: Desk, session: Session, ticket: Ticket, work: Work, request: RepairRequest,
          plan: Plan) -> None:
    """The agent's mail, internal, on the ticket it was written on, before the repair."""
    if work.raw_id is None:
        return
    message = tickets.add_message(
        session, ticket, work.mail, raw_id=work.raw_id, direction=Direction.IN,
        kind=AuthorKind.AGENT, match=work.match, now=work.now,
        attachments_root=desk.attachments_root, agent=work.agent.email, text="")
    message.internal = True
    log_event(session, ticket.id, work.agent.email, "agent-mail",
              {"message_id": work.mail.message_id,
               "commands": [f"#{request.kind} {request.ref or ''}".strip(), *describe(plan)]},
              at=work.now)
    session.flush()


def _apply(desk: Desk, session: Session, ticket: Ticket, work: Work,
           request: RepairRequest) -> tuple[Ticket, str]:
    actor, now = work.agent.email, work.now
    target = tickets.find_ticket_by_ref(session, request.ref) if request.ref else None
    if request.kind is RepairKind.MERGE:
        assert target is not None
        merged = merging.merge(session, ticket, target, actor=actor, now=now)
        return target, merged_line(merged)
    message = referenced_message(session, ticket, work.mail)
    assert message is not None
    if request.kind is RepairKind.MOVE:
        assert target is not None
        splitting.move(session, message, target, actor=actor, now=now)
        return target, moved_line(message.message_id or "", target.ref)
    result = splitting.split(desk, session, ticket, message, following=request.following,
                             actor=actor, now=now)
    new = tickets.find_ticket_by_ref(session, result.new)
    assert new is not None
    return new, split_line(result)


def merged_line(merged: merging.Merged) -> str:
    return f"merged into {merged.target}: {merged.source} now points there"


def moved_line(message_id: str, ref: str) -> str:
    return f"message <{message_id}> moved to {ref}"


def split_line(result: splitting.Split) -> str:
    owner = result.assignee or (f"team {result.team}" if result.team else "nobody")
    return f"split off into {result.new} ({result.messages} message(s)), assigned to {owner}"
