"""Loop protection fed from the .eml corpus: machine mail, own mail, rate limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maildesk.config.model import DeskConfig, LoopsConfig
from maildesk.mail.loops import (
    LoopLimits,
    RecentCounts,
    is_automatic,
    is_own_mail,
    may_send_automatic,
)
from maildesk.mail.parse import parse
from maildesk.types import Address, ParsedMail

MAIL = Path(__file__).resolve().parents[1] / "mail"
DESK = ("support@acme.example", "soporte@acme.example")
NOW = datetime(2024, 3, 11, 12, 0, tzinfo=UTC)
LIMITS = LoopLimits(desk_addresses=DESK)


def mail(name: str) -> ParsedMail:
    return parse((MAIL / name).read_bytes())


@pytest.mark.parametrize("name, reason", [
    ("autoreply/01-outlook-automatic-reply.eml", "auto-submitted"),
    ("autoreply/02-vacation-sieve.eml", "auto-submitted"),
    ("autoreply/03-respuesta-automatica-gmail.eml", "auto-submitted"),
    ("autoreply/04-autoresponder-precedence-bulk.eml", "auto-submitted"),
    ("bounce/01-postfix-user-unknown.eml", "auto-submitted"),
    ("bounce/02-exchange-ndr.eml", "auto-submitted"),
    ("bounce/03-delayed-envelope-id.eml", "auto-submitted"),
    ("lists/01-mailman.eml", "precedence"),
    ("lists/02-newsletter-html-only.eml", "precedence"),
    ("loops/01-x-auto-response-suppress.eml", "x-auto-response-suppress"),
    ("loops/02-x-autoreply.eml", "x-autoreply"),
    ("loops/03-noreply-sender.eml", "machine sender"),
])
def test_machine_mail_is_recognised(name: str, reason: str) -> None:
    found = is_automatic(mail(name))
    assert found is not None and reason in found.lower()


@pytest.mark.parametrize("name", [
    "loops/06-customer-plain.eml",
    "gmail/01-original.eml",
    "gmail/02-reply-references.eml",
    "outlook/01-original.eml",
    "outlook/02-reply-in-reply-to.eml",
    "es/01-original-iso-8859-1-qp.eml",
])
def test_people_are_not_machines(name: str) -> None:
    assert is_automatic(mail(name)) is None


@pytest.mark.parametrize("headers, return_path, sender, reason", [
    ((("list-id", "<x.lists.example>"),), None, "a@example.com", "list-id"),
    ((("list-unsubscribe", "<mailto:u@x>"),), None, "a@example.com", "list-unsubscribe"),
    ((("precedence", "junk"),), None, "a@example.com", "precedence: junk"),
    ((("x-autorespond", "1"),), None, "a@example.com", "x-autorespond"),
    ((), "", "a@example.com", "null return path"),
    ((), None, "MAILER-DAEMON@mx.example", "machine sender"),
    ((), None, "postmaster@example.com", "machine sender"),
    ((), None, "do-not-reply@example.com", "machine sender"),
    ((), None, "noreply+123@example.com", "machine sender"),
    ((("content-type", "multipart/report; report-type=disposition-notification"),), None,
     "a@example.com", "multipart/report"),
])
def test_each_signal_alone(headers: tuple[tuple[str, str], ...], return_path: str | None,
                           sender: str, reason: str) -> None:
    parsed = ParsedMail(message_id="x@y", subject="s", from_addr=Address(sender.lower()),
                        headers=headers, return_path=return_path)
    found = is_automatic(parsed)
    assert found is not None and reason in found.lower()


def test_precedence_first_class_is_a_person() -> None:
    parsed = ParsedMail(message_id="x@y", subject="s", from_addr=None,
                        headers=(("precedence", "first-class"), ("auto-submitted", "no")))
    assert is_automatic(parsed) is None


def test_own_mail() -> None:
    assert is_own_mail(mail("loops/04-own-ack-bounced-back.eml"), DESK)
    assert not is_own_mail(mail("loops/05-forged-maildesk-headers.eml"), DESK)
    assert not is_own_mail(mail("loops/06-customer-plain.eml"), DESK)


def test_own_mail_by_headers_and_domain_when_from_is_rewritten() -> None:
    parsed = ParsedMail(message_id="1.2.MD-7.ack@acme.example", subject="s",
                        from_addr=Address("list@lists.example"),
                        headers=(("x-maildesk-ticket", "MD-7"),))
    assert is_own_mail(parsed, DESK)


def test_limits_from_config() -> None:
    limits = LoopLimits.from_config(LoopsConfig(per_recipient=2, per_recipient_window=600),
                                    DeskConfig(addresses=DESK))
    assert limits.per_recipient == 2 and limits.per_recipient_window == timedelta(minutes=10)
    assert limits.desk_addresses == DESK


def test_may_send_within_limits() -> None:
    assert may_send_automatic("maria@example.com", 1, NOW, RecentCounts(4, 9, 499), LIMITS) is None


@pytest.mark.parametrize("recipient, counts, reason", [
    ("support@acme.example", RecentCounts(), "desk address"),
    ("Soporte+MD-1042@ACME.example", RecentCounts(), "desk address"),
    ("maria@example.com", RecentCounts(to_recipient=5), "automatic mails to maria"),
    ("maria@example.com", RecentCounts(to_ticket=10), "on this ticket"),
    ("maria@example.com", RecentCounts(to_recipient=1, total=501, first_contacts=1),
     "global limit"),
    ("maria@example.com", RecentCounts(total=900, first_contacts=500), "first_contact_limit"),
    ("maria+1@example.com", RecentCounts(to_domain=20), "to @example.com"),
    ("maria@example.com", RecentCounts(suppressed_until=NOW + timedelta(days=1)), "suppressed"),
])
def test_may_send_holds_back(recipient: str, counts: RecentCounts, reason: str) -> None:
    found = may_send_automatic(recipient, 1, NOW, counts, LIMITS)
    assert found is not None and reason in found


def test_expired_suppression_and_ticketless_mail() -> None:
    counts = RecentCounts(to_ticket=99, suppressed_until=NOW - timedelta(seconds=1))
    assert may_send_automatic("maria@example.com", None, NOW, counts, LIMITS) is None


def test_a_flood_uses_up_the_repeat_allowance_not_the_first_contacts() -> None:
    flooded = RecentCounts(to_recipient=1, total=520, first_contacts=20)
    assert "global limit" in (may_send_automatic("flood@spam.example", 1, NOW, flooded,
                                                 LIMITS) or "")
    newcomer = RecentCounts(to_recipient=0, total=520, first_contacts=20)
    assert may_send_automatic("ana@customer.example", 2, NOW, newcomer, LIMITS) is None


def test_public_domains_have_no_domain_limit() -> None:
    limits = LoopLimits.from_config(LoopsConfig(per_domain=3), DeskConfig(addresses=DESK),
                                    ("Gmail.com",))
    counts = RecentCounts(to_domain=3)
    assert may_send_automatic("ana@gmail.com", 1, NOW, counts, limits) is None
    assert "limit 3" in (may_send_automatic("ana@customer.example", 1, NOW, counts, limits)
                         or "")
