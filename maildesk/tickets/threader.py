"""Which ticket does a message belong to? Pure functions, fed by lookups.

The order follows what works with real clients:
1. In-Reply-To / References against every Message-ID the desk received, sent or aliased
   (References is a set: any known id threads), then Outlook's Thread-Index conversation;
2. the [MD-1042] tag in the subject, trusted only from a party to the ticket;
3. a ticket token in a recipient address (support+MD-1042@...), same trust rule;
4. a weak match: a reply-prefixed subject equal, normalised, to a recently active ticket of
   the same customer or organisation (never across organisations, never public domains).
   A forward ("Fwd:", "RV:", "WG:" …) is a new conversation and never matches weakly; when
   several tickets fit, the desk does not guess: it opens a new ticket linked to them;
5. otherwise a new ticket.
A match on a merged ticket follows its pointer to the ticket it was merged into.
A closed ticket is reopened within a grace period; after it a new, linked ticket opens.
Every match carries its evidence (which Message-ID, tag, token or subject matched), kept
on the ticket's "threaded" event for `maildesk tickets show`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from maildesk.mail.addresses import base_address, desk_detail
from maildesk.mail.subject import Prefix, prefix_kind, strip_prefixes
from maildesk.text import fold
from maildesk.types import ParsedMail, ThreadMatch, ThreadMethod, TicketStatus

__all__ = ["strip_prefixes"]  # the one prefix table lives in maildesk/mail/subject.py
_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class TicketView:
    """What threading needs to know about a candidate ticket."""

    id: int
    ref: str
    status: TicketStatus
    customer: str
    organisation: str | None
    parties: frozenset[str]  # customer, CC'd people and agents who took part
    closed_at: datetime | None
    last_activity_at: datetime
    merged_into: int | None = None  # the ticket this one was merged into


@dataclass(frozen=True, slots=True)
class Lookups:
    """Database lookups the threader needs, passed in so the threader stays pure."""

    by_message_ids: Callable[[Iterable[str]], Mapping[str, int]]
    by_thread_index: Callable[[str], int | None]
    by_ref: Callable[[str], TicketView | None]
    by_id: Callable[[int], TicketView | None]
    # Every recently active ticket with this normalised subject, newest first.
    recent_by_subject: Callable[[str, str, str | None, datetime], Sequence[TicketView]]


@dataclass(frozen=True, slots=True)
class Policy:
    prefix: str
    desk_addresses: tuple[str, ...]
    subject_match: bool = True
    subject_match_days: int = 14
    reopen_days: int = 14
    public_domains: frozenset[str] = frozenset()
    other_prefixes: tuple[str, ...] = ()  # the [[brands]]' own ticket prefixes

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (self.prefix, *self.other_prefixes)


def _alternatives(prefix: str | Sequence[str]) -> str:
    prefixes = (prefix,) if isinstance(prefix, str) else tuple(prefix)
    return "|".join(re.escape(p) for p in prefixes)


def normalize_subject(subject: str, prefix: str | Sequence[str] = "MD") -> str:
    """Subject reduced for comparison: no prefixes, no ticket tag, case and space folded."""
    text, _ = strip_prefixes(subject or "")
    text = re.sub(rf"\[\s*(?:{_alternatives(prefix)})-\d+\s*\]", " ", text,
                  flags=re.IGNORECASE)
    text, _ = strip_prefixes(text)
    text = fold(text)
    return _WS.sub(" ", text).strip()[:500]


def subject_refs(subject: str, prefix: str | Sequence[str]) -> list[str]:
    """Every [PREFIX-N] tag in the subject, in order."""
    pattern = rf"\[\s*({_alternatives(prefix)})\s*-\s*(\d+)\s*\]"
    return [f"{p.upper()}-{int(n)}" for p, n in re.findall(pattern, subject or "", re.IGNORECASE)]


def address_refs(recipients: Iterable[str], policy: Policy) -> list[str]:
    """Refs from +tokens on desk addresses: support+MD-1042@ or support+MD-1042.TOKEN@."""
    refs = []
    for address in recipients:
        tag = desk_detail(address, policy.desk_addresses)
        match = re.match(rf"({_alternatives(policy.prefixes).lower()})-(\d+)", tag)
        if match:
            refs.append(f"{match.group(1).upper()}-{int(match.group(2))}")
    return refs


def organisation_of(email: str, public_domains: frozenset[str]) -> str | None:
    """The sender's organisation is its domain, unless that is a public mail provider."""
    domain = base_address(email).rpartition("@")[2]
    return None if not domain or domain in public_domains else domain


def candidate_ids(mail: ParsedMail) -> list[str]:
    """In-Reply-To first (the direct parent), then References from newest to oldest."""
    seen: dict[str, None] = {}
    for mid in (*mail.in_reply_to, *reversed(mail.references)):
        seen.setdefault(mid, None)
    return list(seen)


def _by_headers(mail: ParsedMail, lookups: Lookups) -> ThreadMatch | None:
    ids = candidate_ids(mail)
    if not ids:
        return None
    known = lookups.by_message_ids(ids)
    mid = next((mid for mid in ids if mid in known), None)
    if mid is None:
        return None
    header = "In-Reply-To" if mid in mail.in_reply_to else "References"
    return ThreadMatch(known[mid], ThreadMethod.HEADERS, evidence=f"{header} <{mid}>")


def _by_thread_index(mail: ParsedMail, lookups: Lookups) -> ThreadMatch | None:
    if mail.thread_index is None:
        return None
    key = mail.thread_index.hex()
    ticket_id = lookups.by_thread_index(key)
    if ticket_id is None:
        return None
    return ThreadMatch(ticket_id, ThreadMethod.THREAD_INDEX,
                       evidence=f"Thread-Index conversation {key}")


def _sender(mail: ParsedMail) -> str:
    return mail.from_addr.email if mail.from_addr else ""


def _by_subject_ref(mail: ParsedMail, refs: list[str], method: ThreadMethod,
                    lookups: Lookups) -> ThreadMatch | None:
    what = "tag" if method == ThreadMethod.SUBJECT_TAG else "address token"
    for ref in refs:
        ticket = lookups.by_ref(ref)
        if ticket is None:
            continue
        if _sender(mail) in ticket.parties | final_ticket(ticket, lookups).parties:
            return ThreadMatch(ticket.id, method, evidence=f"{what} {ref} from a party")
        # A stranger must not write into someone else's ticket by copying its number.
        return ThreadMatch(None, ThreadMethod.NEW, related_ticket_id=ticket.id,
                           note=f"{method} {ref} from a non-party: possible duplicate",
                           evidence=f"{what} {ref} from {_sender(mail)}, not a party")
    return None


def _by_weak_subject(mail: ParsedMail, now: datetime, policy: Policy,
                     lookups: Lookups) -> ThreadMatch | None:
    """Only a reply: a forward starts a new conversation. Never a guess between tickets."""
    normalized = normalize_subject(mail.subject, policy.prefixes)
    if not (policy.subject_match and prefix_kind(mail.subject) == Prefix.REPLY
            and normalized and _sender(mail)):
        return None
    org = organisation_of(_sender(mail), policy.public_domains)
    since = now - timedelta(days=policy.subject_match_days)
    # A merged ticket and the one it went into are one conversation, not a choice.
    found = list({t.id: t for t in (final_ticket(view, lookups) for view in
                  lookups.recent_by_subject(normalized, _sender(mail), org, since))}.values())
    evidence = (f'subject "{normalized}" of a ticket by the same customer or organisation, '
                f"active in the last {policy.subject_match_days} days")
    if len(found) == 1:
        return ThreadMatch(found[0].id, ThreadMethod.SUBJECT, weak=True,
                           note="reply-prefixed subject equal to a recent ticket's",
                           evidence=f"{evidence}: {found[0].ref}")
    if not found:
        return None
    refs = ", ".join(t.ref for t in found)
    return ThreadMatch(None, ThreadMethod.NEW, related_ticket_id=found[0].id,
                       candidates=tuple(t.id for t in found),
                       note=f"subject fits {refs}: not guessing, possible duplicate",
                       evidence=f"{evidence}: {refs}")


MAX_MERGE_HOPS = 10  # a chain longer than this is a loop (never made by merge, but be safe)


def final_ticket(ticket: TicketView, lookups: Lookups) -> TicketView:
    """The ticket a merged ticket now lives in (itself when it was never merged)."""
    for _ in range(MAX_MERGE_HOPS):
        if ticket.merged_into is None:
            return ticket
        target = lookups.by_id(ticket.merged_into)
        if target is None:
            return ticket
        ticket = target
    return ticket


def follow_merges(match: ThreadMatch, lookups: Lookups) -> ThreadMatch:
    """A match on a merged ticket lands in the ticket it was merged into (and so on)."""
    if match.ticket_id is None:
        return match
    ticket, hops = lookups.by_id(match.ticket_id), list[str]()
    while ticket is not None and ticket.merged_into is not None and len(hops) < MAX_MERGE_HOPS:
        hops.append(ticket.ref)
        ticket = lookups.by_id(ticket.merged_into)
    if not hops or ticket is None:
        return match
    followed = f"{' -> '.join(hops)} was merged into {ticket.ref}"
    return ThreadMatch(ticket.id, match.method, match.weak, note=match.note,
                       evidence=f"{match.evidence}; {followed}" if match.evidence else followed)


def _settle(match: ThreadMatch, now: datetime, policy: Policy, lookups: Lookups) -> ThreadMatch:
    """Turn a match on a closed ticket into a reopen, or a new ticket linked to it."""
    if match.ticket_id is None:
        return match
    ticket = lookups.by_id(match.ticket_id)
    if ticket is None or ticket.status != TicketStatus.CLOSED:
        return match
    closed = ticket.closed_at or ticket.last_activity_at
    if now - closed <= timedelta(days=policy.reopen_days):
        return ThreadMatch(ticket.id, match.method, match.weak, reopen=True, note=match.note,
                           evidence=match.evidence)
    return ThreadMatch(None, ThreadMethod.NEW, related_ticket_id=ticket.id,
                       note=f"{match.method} matched {ticket.ref}, closed beyond grace period",
                       evidence=match.evidence)


def find_ticket(mail: ParsedMail, envelope_to: Iterable[str], now: datetime, policy: Policy,
                lookups: Lookups) -> ThreadMatch:
    """Decide where `mail` belongs, in the documented order."""
    found = follow_merges(_match(mail, envelope_to, now, policy, lookups), lookups)
    return _settle(found, now, policy, lookups)


def _match(mail: ParsedMail, envelope_to: Iterable[str], now: datetime, policy: Policy,
           lookups: Lookups) -> ThreadMatch:
    found = _by_headers(mail, lookups) or _by_thread_index(mail, lookups)
    if found is not None:
        return found
    found = _by_subject_ref(mail, subject_refs(mail.subject, policy.prefixes),
                            ThreadMethod.SUBJECT_TAG, lookups)
    if found is not None:
        return found
    recipients = [*envelope_to, *(a.email for a in mail.recipients)]
    found = (_by_subject_ref(mail, address_refs(recipients, policy),
                             ThreadMethod.ADDRESS_TOKEN, lookups)
             or _by_weak_subject(mail, now, policy, lookups))
    if found is not None:
        return found
    if prefix_kind(mail.subject) == Prefix.FORWARD:
        return ThreadMatch(None, ThreadMethod.NEW,
                           evidence="a forward with no known Message-ID, tag or token")
    return ThreadMatch(None, ThreadMethod.NEW, evidence="no known Message-ID, tag or token, "
                       "and no reply subject of a recent ticket")


def alias_ids(mail: ParsedMail, known: Mapping[str, int]) -> list[str]:
    """IDs the mail references that the desk does not know yet: they become aliases.

    A colleague CC'd on the customer's first mail replies-all to *that* mail, whose id
    the desk may have stored under another id or never seen; keeping every referenced
    id as an alias of the ticket makes such replies join it instead of forking.
    """
    return [mid for mid in candidate_ids(mail) if mid not in known]
