"""The threader, as a pure function over fake lookups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maildesk.tickets.threader import (
    Lookups,
    Policy,
    TicketView,
    address_refs,
    alias_ids,
    candidate_ids,
    find_ticket,
    normalize_subject,
    strip_prefixes,
    subject_refs,
)
from maildesk.types import Address, ParsedMail, ThreadMethod, TicketStatus

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICY = Policy(prefix="MD", desk_addresses=("support@acme.example",),
                public_domains=frozenset({"gmail.com"}))


def ticket(id_: int = 7, status: TicketStatus = TicketStatus.OPEN,
           parties: tuple[str, ...] = ("ana@cliente.example",), closed_days: int | None = None,
           org: str | None = "cliente.example") -> TicketView:
    closed = NOW - timedelta(days=closed_days) if closed_days is not None else None
    return TicketView(id=id_, ref=f"MD-{id_}", status=status, customer=parties[0],
                      organisation=org, parties=frozenset(parties), closed_at=closed,
                      last_activity_at=closed or NOW)


def lookups(ids: dict[str, int] | None = None, tickets: tuple[TicketView, ...] = (),
            thread_index: dict[str, int] | None = None,
            recent: TicketView | tuple[TicketView, ...] | None = None) -> Lookups:
    found = recent if isinstance(recent, tuple) else (recent,) if recent else ()
    by_id = {t.id: t for t in tickets}
    return Lookups(
        by_message_ids=lambda want: {m: (ids or {})[m] for m in want if m in (ids or {})},
        by_thread_index=lambda key: (thread_index or {}).get(key),
        by_ref=lambda ref: next((t for t in tickets if t.ref == ref), None),
        by_id=by_id.get,
        recent_by_subject=lambda subject, sender, org, since: found,
    )


def mail(subject: str = "Hola", sender: str = "ana@cliente.example", **kw) -> ParsedMail:
    return ParsedMail(message_id="new@x", subject=subject, from_addr=Address(sender), **kw)


@pytest.mark.parametrize("subject, expected", [
    ("Re: Hola", "Hola"), ("RE: AW: RV: [MD-12] Fallo", "[MD-12] Fallo"),
    ("RES: Re[2]: algo", "algo"), ("Fwd: x", "x"), ("TR: z", "z"), ("SV: y", "y"),
    ("Rechazo de pago", "Rechazo de pago"), ("Reunión", "Reunión"),
])
def test_strip_prefixes(subject: str, expected: str) -> None:
    assert strip_prefixes(subject)[0] == expected


def test_normalize_subject_drops_tags_prefixes_case() -> None:
    assert normalize_subject("RE: [MD-12]  Fallo   del Servidor") == "fallo del servidor"
    assert normalize_subject("[MD-12] Re: Fallo del servidor") == "fallo del servidor"


def test_subject_refs_any_position_and_case() -> None:
    assert subject_refs("AW: Problem [md-0042] und [MD-7]", "MD") == ["MD-42", "MD-7"]
    assert subject_refs("No tag here MD-42", "MD") == []


def test_address_refs_only_on_desk_addresses() -> None:
    refs = address_refs(["support+MD-1042@acme.example", "other+MD-9@acme.example",
                         "support+md-7.abcdef@acme.example"], POLICY)
    assert refs == ["MD-1042", "MD-7"]


def test_in_reply_to_wins_then_references_newest_first() -> None:
    m = mail(in_reply_to=("b@x",), references=("a@x", "b@x", "c@x"))
    assert candidate_ids(m) == ["b@x", "c@x", "a@x"]
    match = find_ticket(m, (), NOW, POLICY, lookups({"c@x": 3}, (ticket(3),)))
    assert (match.ticket_id, match.method) == (3, ThreadMethod.HEADERS)


def test_any_known_reference_threads() -> None:
    m = mail(references=("unknown1@x", "known@x", "unknown2@x"))
    match = find_ticket(m, (), NOW, POLICY, lookups({"known@x": 5}, (ticket(5),)))
    assert match.ticket_id == 5
    assert alias_ids(m, {"known@x": 5}) == ["unknown2@x", "unknown1@x"]


def test_thread_index_hint() -> None:
    index = bytes(range(22))
    m = mail(thread_index=index)
    match = find_ticket(m, (), NOW, POLICY, lookups(thread_index={index.hex(): 4},
                                                    tickets=(ticket(4),)))
    assert (match.ticket_id, match.method) == (4, ThreadMethod.THREAD_INDEX)


def test_subject_tag_from_party() -> None:
    m = mail("RV: [MD-7] Fallo")
    match = find_ticket(m, (), NOW, POLICY, lookups(tickets=(ticket(7),)))
    assert (match.ticket_id, match.method) == (7, ThreadMethod.SUBJECT_TAG)


def test_subject_tag_from_stranger_opens_linked_ticket() -> None:
    m = mail("Re: [MD-7] Fallo", sender="mallory@evil.example")
    match = find_ticket(m, (), NOW, POLICY, lookups(tickets=(ticket(7),)))
    assert match.ticket_id is None and match.related_ticket_id == 7
    assert "possible duplicate" in match.note


def test_address_token() -> None:
    m = mail("More info")
    match = find_ticket(m, ("support+MD-7@acme.example",), NOW, POLICY,
                        lookups(tickets=(ticket(7),)))
    assert (match.ticket_id, match.method) == (7, ThreadMethod.ADDRESS_TOKEN)


def test_weak_subject_needs_reply_prefix() -> None:
    recent = ticket(9)
    found = find_ticket(mail("Re: Impresora rota"), (), NOW, POLICY,
                        lookups(tickets=(recent,), recent=recent))
    assert (found.ticket_id, found.method, found.weak) == (9, ThreadMethod.SUBJECT, True)
    fresh = find_ticket(mail("Impresora rota"), (), NOW, POLICY,
                        lookups(tickets=(recent,), recent=recent))
    assert fresh.ticket_id is None and fresh.method == ThreadMethod.NEW


@pytest.mark.parametrize("subject", ["Fwd: Payment receipt", "FW: Payment receipt",
                                     "RV: Payment receipt", "WG: Payment receipt",
                                     "TR: Payment receipt", "Enc: Payment receipt",
                                     "I: Payment receipt", "Doorst: Payment receipt",
                                     "VS: Payment receipt", "Fwd: Re: Payment receipt"])
def test_forward_never_matches_weakly(subject: str) -> None:
    recent = ticket(9)
    match = find_ticket(mail(subject), (), NOW, POLICY, lookups(tickets=(recent,), recent=recent))
    assert (match.ticket_id, match.method, match.weak) == (None, ThreadMethod.NEW, False)
    assert "forward" in match.evidence


def test_reply_to_a_forward_still_matches_weakly() -> None:
    recent = ticket(9)
    match = find_ticket(mail("Re: Fwd: Payment receipt"), (), NOW, POLICY,
                        lookups(tickets=(recent,), recent=recent))
    assert (match.ticket_id, match.weak) == (9, True)
    assert 'subject "payment receipt"' in match.evidence and "MD-9" in match.evidence


def test_forward_threads_by_headers() -> None:
    match = find_ticket(mail("Fwd: Payment receipt", in_reply_to=("a@x",)), (), NOW, POLICY,
                        lookups(ids={"a@x": 4}))
    assert (match.ticket_id, match.method) == (4, ThreadMethod.HEADERS)
    assert match.evidence == "In-Reply-To <a@x>"


def test_two_fitting_tickets_open_a_linked_ticket_instead_of_guessing() -> None:
    newer, older = ticket(12), ticket(9)
    match = find_ticket(mail("Re: Impresora rota"), (), NOW, POLICY,
                        lookups(tickets=(newer, older), recent=(newer, older)))
    assert (match.ticket_id, match.method, match.weak) == (None, ThreadMethod.NEW, False)
    assert match.related_ticket_id == 12 and match.candidates == (12, 9)
    assert "MD-12, MD-9" in match.note and "MD-12, MD-9" in match.evidence


@pytest.mark.parametrize("kw, lookup, evidence", [
    ({"references": ("old@x", "mid@x")}, {"ids": {"old@x": 4}}, "References <old@x>"),
    ({"thread_index": bytes(range(22))}, {"thread_index": {bytes(range(22)).hex(): 4}},
     f"Thread-Index conversation {bytes(range(22)).hex()}"),
])
def test_evidence_names_what_matched(kw: dict, lookup: dict, evidence: str) -> None:
    match = find_ticket(mail("Hola", **kw), (), NOW, POLICY, lookups(**lookup))
    assert (match.ticket_id, match.evidence) == (4, evidence)


def test_evidence_of_tag_and_token() -> None:
    tag = find_ticket(mail("Re: [MD-7] x"), (), NOW, POLICY, lookups(tickets=(ticket(7),)))
    assert tag.evidence == "tag MD-7 from a party"
    token = find_ticket(mail("x"), ("support+MD-7@acme.example",), NOW, POLICY,
                        lookups(tickets=(ticket(7),)))
    assert token.evidence == "address token MD-7 from a party"
    stranger = find_ticket(mail("Re: [MD-7] x", sender="eve@other.example"), (), NOW, POLICY,
                           lookups(tickets=(ticket(7),)))
    assert stranger.ticket_id is None and "not a party" in stranger.evidence


def test_weak_subject_can_be_disabled() -> None:
    recent = ticket(9)
    policy = Policy(prefix="MD", desk_addresses=POLICY.desk_addresses, subject_match=False)
    match = find_ticket(mail("Re: Impresora rota"), (), NOW, policy,
                        lookups(tickets=(recent,), recent=recent))
    assert match.ticket_id is None


def test_closed_ticket_reopens_within_grace() -> None:
    closed = ticket(3, TicketStatus.CLOSED, closed_days=2)
    match = find_ticket(mail(in_reply_to=("a@x",)), (), NOW, POLICY,
                        lookups({"a@x": 3}, (closed,)))
    assert match.ticket_id == 3 and match.reopen


def test_closed_ticket_beyond_grace_opens_linked_ticket() -> None:
    closed = ticket(3, TicketStatus.CLOSED, closed_days=40)
    match = find_ticket(mail(in_reply_to=("a@x",)), (), NOW, POLICY,
                        lookups({"a@x": 3}, (closed,)))
    assert match.ticket_id is None and match.related_ticket_id == 3 and not match.reopen


def test_nothing_known_is_new() -> None:
    match = find_ticket(mail("Hello", in_reply_to=("zzz@x",)), (), NOW, POLICY, lookups())
    assert (match.ticket_id, match.method, match.related_ticket_id) == (None, ThreadMethod.NEW, None)
    assert match.evidence.startswith("no known Message-ID")
