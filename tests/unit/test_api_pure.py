"""Pure parts of the API and webhooks: signatures, rate buckets, backoff, cursors, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildesk.agents.commands import Plan
from maildesk.api.actions import already
from maildesk.api.openapi import errors
from maildesk.api.queries import decode_cursor, encode_cursor
from maildesk.api.ratelimit import take
from maildesk.config.model import load_config
from maildesk.errors import ConfigError
from maildesk.store.models import Ticket
from maildesk.types import TicketStatus
from maildesk.webhooks.events import event_type
from maildesk.webhooks.queue import backoff
from maildesk.webhooks.signature import sign, verify
from tests.conftest import write_desk

SECRET = b"s3cret"


def test_signature_is_checked_whole() -> None:
    body = b'{"type":"ticket.created"}'
    header = sign(SECRET, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify(SECRET, header, body, 1_700_000_100)
    assert not verify(SECRET, header, body + b" ", 1_700_000_100)  # body changed
    assert not verify(b"other", header, body, 1_700_000_100)  # another secret
    assert not verify(SECRET, header, body, 1_700_001_000)  # too old: a replay
    forged = header.replace("t=1700000000", "t=1700000900")
    assert not verify(SECRET, forged, body, 1_700_000_900)  # the time is signed too
    assert not verify(SECRET, "v1=abc", body, 1_700_000_000)


def test_token_bucket() -> None:
    bucket, wait = take(None, 0.0, 2, 60.0)
    bucket, wait2 = take(bucket, 0.0, 2, 60.0)
    assert (wait, wait2) == (0, 0)
    bucket, wait = take(bucket, 1.0, 2, 60.0)
    assert wait == 29  # one request per 30 s comes back
    assert take(bucket, 31.0, 2, 60.0)[1] == 0


def test_backoff_doubles_up_to_the_cap(tmp_path: Path) -> None:
    root = tmp_path / "desk"
    write_desk(root, "sqlite:///x.db", '[[webhooks]]\nurl = "https://crm.example/h"\n'
               'events = ["ticket.created"]\nsecret_file = "secret"\nbackoff = 10\n'
               'backoff_max = 35\n')
    hook = load_config(root / "maildesk.toml").webhooks[0]
    assert hook.name == "hook1" and [backoff(hook, n) for n in (1, 2, 3, 4)] == [10, 20, 35, 35]


def test_webhook_config_problems_name_the_line(tmp_path: Path) -> None:
    root = tmp_path / "desk"
    write_desk(root, "sqlite:///x.db", '[[webhooks]]\nurl = "ftp://x"\nevents = ["ticket.eaten"]\n'
               'secret_file = "missing"\n\n[api]\nrate_limit = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_config(root / "maildesk.toml")
    text = str(caught.value)
    for key in ("webhooks.url", "webhooks.events", "webhooks.secret_file", "api.rate_limit"):
        assert key in text
    assert "ticket.eaten" in text and "maildesk.toml:" in text


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(42)) == 42
    assert decode_cursor("not base64!") is None and decode_cursor(encode_cursor(1)[:-1]) is None


def test_status_to_the_same_state_is_a_conflict() -> None:
    ticket = Ticket(ref="MD-1", status="closed")
    assert already(ticket, Plan(status=TicketStatus.CLOSED), "") == ("MD-1 is already closed",)
    assert already(ticket, Plan(status=TicketStatus.OPEN), "") == ()
    assert already(ticket, Plan(status=TicketStatus.CLOSED), "text") == ()  # a reply


def test_request_bodies_are_checked_against_the_document() -> None:
    assert errors("AssignRequest", {"agent": "ana@example.com"}) == []
    assert errors("AssignRequest", {"agent": "a", "team": "l1"})  # one or the other
    assert errors("TagsRequest", {}) and errors("TagsRequest", {"add": ["two words"]})
    assert errors("StatusRequest", {"status": "frozen"})
    assert errors("ReplyRequest", {"text": "hi", "extra": 1})


def test_event_types() -> None:
    assert event_type("created") == "ticket.created"
    assert event_type("sla-breach") == "sla.breached"
    assert event_type("satisfaction") == "survey.answered"
    assert event_type("possible-duplicate") is None
