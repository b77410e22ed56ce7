"""Pure: why a mail would join the ticket it joins, step by step (`maildesk thread test`).

The decision itself is always `threader.find_ticket`'s; this module walks the same steps
with the same lookups to say what each one saw: the Message-ID, tag, token or subject
that matched, and every candidate it turned down and why (a non-party's tag, several
tickets with the subject, a ticket closed beyond the grace period, a merged ticket).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from maildesk.mail.subject import Prefix, prefix_kind
from maildesk.tickets.threader import (
    Lookups,
    Policy,
    TicketView,
    address_refs,
    candidate_ids,
    final_ticket,
    find_ticket,
    normalize_subject,
    organisation_of,
    subject_refs,
)
from maildesk.types import ParsedMail, ThreadMatch, TicketStatus


class StepResult(StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no match"
    REJECTED = "rejected"  # found candidates, took none
    SKIPPED = "skipped"  # nothing in the mail for this step
    NOT_REACHED = "not reached"  # an earlier step decided


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    result: StepResult
    detail: str


@dataclass(frozen=True, slots=True)
class Rejected:
    ref: str
    step: str
    why: str


@dataclass(frozen=True, slots=True)
class Explanation:
    match: ThreadMatch
    ref: str | None  # the ticket joined; None: a new ticket
    steps: tuple[Step, ...]
    rejected: tuple[Rejected, ...]

    @property
    def decision(self) -> str:
        if self.ref is None:
            return "new ticket"
        return f"reopen {self.ref}" if self.match.reopen else f"join {self.ref}"


@dataclass
class _Trace:
    steps: list[Step]
    rejected: list[Rejected]
    done: bool = False

    def add(self, name: str, result: StepResult, detail: str) -> None:
        if self.done:
            self.steps.append(Step(name, StepResult.NOT_REACHED, "an earlier step decided"))
            return
        self.steps.append(Step(name, result, detail))
        self.done = result is StepResult.MATCHED


def explain(mail: ParsedMail, envelope_to: Iterable[str], now: datetime, policy: Policy,
            lookups: Lookups) -> Explanation:
    """Every step of find_ticket on `mail`, what it saw, and the decision find_ticket makes."""
    envelope_to = tuple(envelope_to)
    match = find_ticket(mail, envelope_to, now, policy, lookups)
    trace = _Trace([], [])
    _headers(mail, lookups, trace)
    _thread_index(mail, lookups, trace)
    sender = mail.from_addr.email if mail.from_addr else ""
    _refs("subject tag", subject_refs(mail.subject, policy.prefix), sender, lookups, trace)
    recipients = [*envelope_to, *(a.email for a in mail.recipients)]
    _refs("address token", address_refs(recipients, policy), sender, lookups, trace)
    _subject(mail, sender, now, policy, lookups, trace)
    _settled(match, now, policy, lookups, trace)
    ticket = lookups.by_id(match.ticket_id) if match.ticket_id is not None else None
    return Explanation(match, ticket.ref if ticket else None, tuple(trace.steps),
                       tuple(trace.rejected))


def _headers(mail: ParsedMail, lookups: Lookups, trace: _Trace) -> None:
    ids = candidate_ids(mail)
    if not ids:
        trace.add("headers", StepResult.SKIPPED, "no In-Reply-To or References")
        return
    known = lookups.by_message_ids(ids)
    hit = next((mid for mid in ids if mid in known), None)
    if hit is None:
        trace.add("headers", StepResult.NO_MATCH,
                  f"{len(ids)} referenced Message-ID(s), none known to the desk: "
                  + ", ".join(f"<{mid}>" for mid in ids[:5]))
        return
    header = "In-Reply-To" if hit in mail.in_reply_to else "References"
    ticket = lookups.by_id(known[hit])
    trace.add("headers", StepResult.MATCHED,
              f"{header} <{hit}> is a message of {ticket.ref if ticket else known[hit]}")
    for mid in ids:
        if mid in known and known[mid] != known[hit]:
            other = lookups.by_id(known[mid])
            trace.rejected.append(Rejected(other.ref if other else str(known[mid]), "headers",
                                           f"<{mid}> belongs to it, but <{hit}> is nearer "
                                           "(In-Reply-To first, then References newest first)"))


def _thread_index(mail: ParsedMail, lookups: Lookups, trace: _Trace) -> None:
    if mail.thread_index is None:
        trace.add("thread-index", StepResult.SKIPPED, "no Outlook Thread-Index")
        return
    key = mail.thread_index.hex()
    ticket_id = lookups.by_thread_index(key)
    ticket = lookups.by_id(ticket_id) if ticket_id is not None else None
    if ticket is None:
        trace.add("thread-index", StepResult.NO_MATCH, f"conversation {key} unknown")
    else:
        trace.add("thread-index", StepResult.MATCHED, f"conversation {key} is {ticket.ref}'s")


def _refs(name: str, refs: list[str], sender: str, lookups: Lookups, trace: _Trace) -> None:
    if not refs:
        trace.add(name, StepResult.SKIPPED, f"no {name}")
        return
    for ref in refs:
        ticket = lookups.by_ref(ref)
        if ticket is None:
            trace.rejected.append(Rejected(ref, name, "no such ticket"))
            continue
        if sender in ticket.parties | final_ticket(ticket, lookups).parties:
            trace.add(name, StepResult.MATCHED, f"{ref} and {sender} is a party to it")
            return
        trace.rejected.append(Rejected(ref, name, f"{sender or 'the sender'} is not a party "
                                       "to it: a new ticket, linked as a possible duplicate"))
        trace.add(name, StepResult.REJECTED, f"{ref} from a non-party")
        trace.done = True  # the threader stops here: it opens a linked ticket
        return
    trace.add(name, StepResult.NO_MATCH, f"{', '.join(refs)}: no such ticket")


def _subject(mail: ParsedMail, sender: str, now: datetime, policy: Policy, lookups: Lookups,
             trace: _Trace) -> None:
    name = "weak subject"
    normalized = normalize_subject(mail.subject, policy.prefix)
    if not policy.subject_match:
        trace.add(name, StepResult.SKIPPED, "[threading] subject_match is off")
        return
    kind = prefix_kind(mail.subject)
    if kind != Prefix.REPLY or not normalized or not sender:
        why = "a forward starts a new conversation" if kind == Prefix.FORWARD \
            else "the subject has no reply prefix" if kind != Prefix.REPLY else "nothing to compare"
        trace.add(name, StepResult.SKIPPED, why)
        return
    since = now - timedelta(days=policy.subject_match_days)
    org = organisation_of(sender, policy.public_domains)
    views = {t.id: t for t in (final_ticket(v, lookups) for v in
                               lookups.recent_by_subject(normalized, sender, org, since))}
    found: list[TicketView] = list(views.values())
    where = (f'"{normalized}" among tickets of {sender}' + (f" or {org}" if org else "")
             + f" active in the last {policy.subject_match_days} days")
    if len(found) == 1:
        trace.add(name, StepResult.MATCHED, f"{where}: {found[0].ref}")
    elif not found:
        trace.add(name, StepResult.NO_MATCH, f"{where}: none")
    else:
        for ticket in found:
            trace.rejected.append(Rejected(ticket.ref, name, "several tickets fit the subject: "
                                           "the desk does not guess (new ticket, linked)"))
        trace.add(name, StepResult.REJECTED, f"{where}: {len(found)} tickets")


def _settled(match: ThreadMatch, now: datetime, policy: Policy, lookups: Lookups,
             trace: _Trace) -> None:
    """What the closed-ticket grace period and merge pointers changed."""
    chosen = next((s for s in trace.steps if s.result is StepResult.MATCHED), None)
    if "was merged into" in match.evidence:
        trace.steps.append(Step("merged", StepResult.MATCHED,
                                match.evidence.rpartition("; ")[2]))
    if match.reopen:
        trace.steps.append(Step("closed", StepResult.MATCHED,
                                f"closed within the {policy.reopen_days}-day grace: reopened"))
    elif chosen is not None and match.ticket_id is None and match.related_ticket_id is not None:
        ticket = lookups.by_id(match.related_ticket_id)
        if ticket is not None and ticket.status == TicketStatus.CLOSED:
            trace.rejected.append(Rejected(ticket.ref, "closed", f"closed beyond the "
                                           f"{policy.reopen_days}-day grace period: a new "
                                           "ticket, linked to it"))
