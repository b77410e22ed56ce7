"""The pure protocol decisions of the SMTP and IMAP intakes, the daemon and status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maildesk.cli.status import is_up
from maildesk.config.model import Config, SmtpConfig
from maildesk.intake import imap, smtp
from maildesk.intake.reconcile import compare
from maildesk.pipeline.flow import Accepted
from maildesk.pipeline.item import Outcome
from maildesk.runtime.daemon import needs_restart
from maildesk.runtime.metrics import Metrics
from maildesk.store.models import DaemonStatus

DESK = ("support@acme.example", "soporte@acme.example")


def test_recipients_desk_addresses_and_plus_tokens_only() -> None:
    assert smtp.recipient_reply("support@acme.example", DESK) == smtp.RECIPIENT_OK
    assert smtp.recipient_reply("<Support+MD-1042@ACME.example>", DESK) == smtp.RECIPIENT_OK
    assert smtp.recipient_reply("soporte+x+y@acme.example", DESK) == smtp.RECIPIENT_OK
    for other in ("support@evil.example", "other@acme.example", "support@acme.example.evil",
                  "@acme.example", "support", "+x@acme.example"):
        assert smtp.recipient_reply(other, DESK) == smtp.NO_SUCH_RECIPIENT, other


def test_size_and_data_replies() -> None:
    assert smtp.size_reply(10, 10) is None
    assert smtp.size_reply(11, 10) == smtp.TOO_BIG
    assert smtp.data_replies(smtp.Stored.YES, "smtp", 3) == [smtp.QUEUED]
    assert smtp.data_replies(smtp.Stored.YES, "lmtp", 3) == [smtp.QUEUED] * 3
    assert smtp.data_replies(smtp.Stored.STORAGE_DOWN, "lmtp", 2) == [smtp.STORAGE_DOWN] * 2
    assert smtp.STORAGE_DOWN.startswith("451 4.3.0")
    assert smtp.TOO_MANY_CONNECTIONS.startswith("421 4.7.0")
    assert smtp.NO_SUCH_RECIPIENT.startswith("550 5.1.1")


def test_byte_budget_shares_and_declared_size() -> None:
    budget = smtp.ByteBudget(100)
    a, b = object(), object()
    assert budget.reserve(a, 60) and budget.reserve(a, 40)  # a share never shrinks
    assert not budget.reserve(b, 41) and budget.refused == 1
    assert budget.reserve(b, 40) and budget.total == budget.peak == 100
    assert not budget.reserve(a, 61)
    budget.release(a)
    budget.release(a)  # twice is harmless
    assert budget.total == 40 and budget.reserve(b, 100) and budget.peak == 100
    budget.release(b)
    assert budget.total == 0 and not budget.held
    assert smtp.declared_size(["BODY=8BITMIME", "SIZE=2048"]) == 2048
    assert smtp.declared_size(["SIZE=x"]) == smtp.declared_size([]) == 0
    assert smtp.INSUFFICIENT_STORAGE.startswith("452 4.3.1")
    assert smtp.TOO_MUCH_IN_FLIGHT.startswith("421 4.3.1")


def test_bytes_in_flight_setting(tmp_path: Path) -> None:
    from maildesk.config.model import load_config
    from maildesk.errors import ConfigError

    path = tmp_path / "maildesk.toml"
    (tmp_path / "secret").write_text("0" * 64)
    path.write_text('[desk]\naddresses = ["support@acme.example"]\n[smtp]\nmax_size = 1000\n')
    assert load_config(path).smtp.max_bytes_in_flight == 4000
    path.write_text(path.read_text() + "max_bytes_in_flight = 999\n")
    with pytest.raises(ConfigError, match="max_bytes_in_flight: must be at least max_size"):
        load_config(path)


def test_imap_cursor_and_uids() -> None:
    saved = imap.Cursor(uidvalidity=7, last_uid=10)
    assert imap.plan_cursor(None, 7) == imap.Cursor(7, 0)
    assert imap.plan_cursor(saved, 7) == saved
    assert imap.plan_cursor(saved, 8) == imap.Cursor(8, 0)  # UIDVALIDITY changed
    assert imap.uids_to_fetch([10], saved) == []  # `UID 11:*` still returns the last one
    assert imap.uids_to_fetch([13, 11, 12, 11], saved) == [11, 12, 13]
    assert imap.source_ref("a", "INBOX", saved, 11) == "imap:a/INBOX/7/11"
    assert list(imap.batches([1, 2, 3], 2)) == [[1, 2], [3]]


def test_imap_after_commit_and_idle_responses() -> None:
    assert imap.after_commit(None, [b"MOVE"]) is imap.After.FLAG
    assert imap.after_commit("Done", [b"IMAP4REV1", b"MOVE"]) is imap.After.MOVE
    assert imap.after_commit("Done", [b"IMAP4REV1"]) is imap.After.COPY_DELETE
    assert imap.is_new_mail([(3, b"EXISTS")])
    assert imap.is_new_mail([(1, b"RECENT")])
    assert not imap.is_new_mail([(b"OK", b"Still here"), (2, b"EXPUNGE")])


def test_reconcile_compare() -> None:
    result = compare("a", {"x", "y"}, {"x"}, {"x", "z"})
    assert (result.missing_from_desk, result.missing_from_mailbox) == (("y",), ("z",))


def test_status_heartbeat_within_two_intervals() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = DaemonStatus(name="h:1", started_at=now, heartbeat_at=now - timedelta(seconds=19),
                       stats={"interval": 10, "state": "running"})
    assert is_up(row, now)
    row.heartbeat_at = now - timedelta(seconds=21)
    assert not is_up(row, now)
    row.heartbeat_at, row.stats = now, {"interval": 10, "state": "stopped"}
    assert not is_up(row, now)


def test_reload_flags_sections_that_need_a_restart() -> None:
    old = Config(path=Path("x"))
    new = Config(path=Path("x"), smtp=SmtpConfig(enabled=True))
    assert needs_restart(old, old) == []
    assert needs_restart(old, new) == ["smtp"]


def test_metrics_count_outcomes() -> None:
    metrics = Metrics()
    metrics.record("smtp", Accepted(1, False, Outcome("new-ticket", "MD-1")))
    metrics.record("imap:a", Accepted(2, False, Outcome("threaded", "MD-1")))
    metrics.record("smtp", Accepted(1, True, None))
    metrics.error("smtp", "storage down")
    snap = metrics.snapshot()
    assert snap["received"] == {"smtp": 2, "imap:a": 1}
    assert snap["outcomes"] == {"new-ticket": 1, "threaded": 1}
    assert snap["duplicates"] == 1 and snap["errors"] == {"smtp": 1}
    value = metrics.registry.get_sample_value
    assert value("maildesk_new_tickets_total") == 1
    assert value("maildesk_threaded_replies_total") == 1
    assert value("maildesk_duplicates_total") == 1
    assert value("maildesk_errors_total", {"source": "smtp"}) == 1
