"""The content fingerprint: the same mail by any delivery path, a different mail differs."""

from __future__ import annotations

from maildesk.mail.fingerprint import fingerprint
from maildesk.store.rawpipe import dedup_key
from tests.conftest import eml


def test_trace_fields_line_ends_and_folding_are_set_aside() -> None:
    original = eml("reused/01-original.eml")
    again = eml("reused/02-same-again-by-imap.eml")
    assert original != again
    assert fingerprint(original) == fingerprint(again)
    assert fingerprint(b"From sender@example Mon Nov 30 09:00:00 2026\n" + again) \
        == fingerprint(original)  # an mbox separator line


def test_a_different_mail_or_a_changed_field_differs() -> None:
    original = eml("reused/01-original.eml")
    assert fingerprint(eml("reused/03-different-mail-same-id.eml")) != fingerprint(original)
    edited = original.replace(b"Subject: VPN client", b"Subject: VPN Client")
    assert fingerprint(edited) != fingerprint(original)
    body = original.replace(b"finance team", b"sales team")
    assert fingerprint(body) != fingerprint(original)


def test_keys_of_the_first_mail_and_of_a_variant() -> None:
    keys = dedup_key("a@b", eml("reused/01-original.eml"))
    assert keys.first == "mid:a@b" and keys.variant == f"mid:a@b#fp:{keys.fingerprint}"
    no_id = dedup_key(None, eml("reused/01-original.eml"))
    assert no_id.first == no_id.variant == f"fp:{no_id.fingerprint}"
