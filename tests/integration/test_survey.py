"""Satisfaction answers by reply and by link, and the status page, on SQLite and PostgreSQL.

The web endpoint is the real aiohttp server on an ephemeral port, spoken to over HTTP.
"""

from __future__ import annotations

import asyncio
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from maildesk.agents.tokens import sign_link
from maildesk.runtime.desk import Desk
from maildesk.store.models import Event, Message, Ticket
from maildesk.tickets.links import STATUS, SURVEY
from maildesk.tickets.views import ticket_detail
from maildesk.types import AuthorKind, Direction, TicketStatus
from maildesk.web.app import start
from tests.integration.test_tick import (
    madrid,
    mail,
    make_desk,
    open_invoice_ticket,
    outbox,
    receive,
    set_status,
    ticket,
)

WEB = '[web]\nbase_url = "http://desk.test"\n'


@pytest.fixture
def web_desk(tmp_path: Path, db_url: str) -> Iterator[Desk]:
    desk = make_desk(tmp_path / "desk", db_url, WEB)
    yield desk
    desk.close()


@contextmanager
def serving(desk: Desk) -> Iterator[str]:
    """The web endpoint on 127.0.0.1:<free port>, in a thread with its own event loop."""
    loop = asyncio.new_event_loop()
    ready, box = threading.Event(), {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["runner"], box["port"] = loop.run_until_complete(start(desk, "127.0.0.1", 0))
        ready.set()
        loop.run_forever()
        loop.run_until_complete(box["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def closed_ticket(desk: Desk) -> tuple[str, str]:
    """A closed ticket and the Message-ID of the customer's first mail."""
    first = make_msgid(domain="cliente.example")
    ref = open_invoice_ticket(desk, madrid(2025, 11, 24, 10, 0), first)
    set_status(desk, ref, TicketStatus.CLOSED, madrid(2025, 11, 25, 10, 0))
    return ref, first


def local(url: str, base: str) -> str:
    return url.replace("http://desk.test", base)


def fetch(url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(url, body, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def survey_urls(desk: Desk) -> list[str]:
    [closure] = outbox(desk, "closure")
    found = re.findall(r"http://desk\.test/survey/[^\s<\"]+", closure.data.decode())
    return list(dict.fromkeys(found))  # the text and the HTML part


def event_count(desk: Desk, action: str) -> int:
    with desk.sessions() as session:
        return session.scalar(select(func.count()).select_from(Event)
                              .where(Event.action == action))


def test_a_numeric_reply_records_the_score_without_reopening(web_desk: Desk) -> None:
    ref, first = closed_ticket(web_desk)
    body = ("5 - great service\nThe invoice is right now.\n\n"
            "On Tue, 25 Nov 2025 Acme Support wrote:\n> Your request is closed.\n")
    data = mail(f"Re: [{ref}] Invoice 2025-113 is wrong", body, in_reply_to=first)
    from dataclasses import replace

    from maildesk.pipeline.flow import accept
    from maildesk.types import RawMail, Source

    at_eleven = replace(web_desk, clock=lambda: madrid(2025, 11, 25, 11, 0))
    outcome = accept(at_eleven, RawMail(data, Source.PIPE)).outcome
    assert outcome is not None and (outcome.kind, outcome.ref) == ("survey", ref)
    row = ticket(web_desk, ref)
    assert row.status == TicketStatus.CLOSED and row.reopen_count == 0
    assert (row.satisfaction_score, row.satisfaction_comment) == (
        5, "great service\nThe invoice is right now.")
    with web_desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        view = ticket_detail(session, session.get(Ticket, row.id))
    assert view["satisfaction"] == {"score": 5, "comment": "great service\nThe invoice is "
                                    "right now.", "at": madrid(2025, 11, 25, 11, 0).isoformat()}
    assert view["messages"][-1]["text"].startswith("5 - great service")
    assert outbox(web_desk, "escalation") == []  # a good score tells nobody


def test_a_low_score_in_spanish_tells_the_team_and_the_last_answer_wins(
        web_desk: Desk) -> None:
    ref, first = closed_ticket(web_desk)
    receive(web_desk, madrid(2025, 11, 25, 11, 0),
            mail(f"RE: [{ref}] Invoice", "Puntuación: 2\n\nTardaron mucho.", in_reply_to=first))
    row = ticket(web_desk, ref)
    assert (row.satisfaction_score, row.satisfaction_comment) == (2, "Tardaron mucho.")
    [alert] = outbox(web_desk, "escalation")
    assert alert.recipients == ["ana@example.com"]  # team l1 has no lead: its members
    assert event_count(web_desk, "low-score") == 1
    receive(web_desk, madrid(2025, 11, 25, 12, 0),
            mail(f"RE: [{ref}] Invoice", "4/5", in_reply_to=first))
    row = ticket(web_desk, ref)
    assert (row.satisfaction_score, row.satisfaction_comment, row.status) == (
        4, None, TicketStatus.CLOSED)
    assert event_count(web_desk, "satisfaction") == 2


def test_a_reply_that_is_not_a_score_reopens_as_usual(web_desk: Desk) -> None:
    ref, first = closed_ticket(web_desk)
    receive(web_desk, madrid(2025, 11, 25, 11, 0),
            mail(f"Re: [{ref}] Invoice", "3 printers are still broken.", in_reply_to=first))
    row = ticket(web_desk, ref)
    assert row.status == TicketStatus.OPEN and row.satisfaction_score is None


def request(url: str, method: str = "GET", body: bytes | None = None,
            content_type: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, body, headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_opening_a_link_records_nothing(web_desk: Desk) -> None:
    """Mail scanners open every link (GET and HEAD): no score, no escalation."""
    ref, _ = closed_ticket(web_desk)
    urls = survey_urls(web_desk)
    assert len(urls) == 5
    with serving(web_desk) as base:
        for url in urls:
            assert request(local(url, base), "HEAD")[0] == 200
        status, page = fetch(local(urls[0], base))
    assert status == 200 and '<html lang="en">' in page and "1 out of 5" in page
    assert '<input type="radio" name="score" value="1" checked>' in page
    assert page.count(" checked>") == 1 and '<textarea id="comment"' in page
    assert '<form method="post">' in page and '<button type="submit">' in page
    assert ticket(web_desk, ref).satisfaction_score is None
    assert event_count(web_desk, "satisfaction") == 0
    assert outbox(web_desk, "escalation") == []


def test_the_form_records_then_a_post_without_comment_keeps_it(web_desk: Desk) -> None:
    ref, _ = closed_ticket(web_desk)
    url = survey_urls(web_desk)[3]
    with serving(web_desk) as base:
        status, page = fetch(local(url, base), {"score": "4", "comment": "Quick & <b>kind</b>"})
        assert status == 200 and "Thank you for your rating" in page and "4 out of 5" in page
        assert fetch(local(url, base), {"score": "4", "comment": "Quick & <b>kind</b>"})[0] == 200
        assert event_count(web_desk, "satisfaction") == 1  # the same answer twice: one
        status, page = fetch(local(url, base))
        assert "Quick &amp; &lt;b&gt;kind&lt;/b&gt;</textarea>" in page  # shown to edit
        status, page = fetch(local(url, base), {"score": "5", "comment": ""})
        assert status == 200 and "5 out of 5" in page
        assert fetch(local(url, base), {})[0] == 200  # the link's score, comment kept
    row = ticket(web_desk, ref)
    assert (row.satisfaction_score, row.satisfaction_comment) == (4, "Quick & <b>kind</b>")
    assert event_count(web_desk, "satisfaction") == 3


def test_a_low_score_is_recorded_only_by_the_button(web_desk: Desk) -> None:
    ref, _ = closed_ticket(web_desk)
    url = survey_urls(web_desk)[0]
    with serving(web_desk) as base:
        assert fetch(local(url, base))[0] == 200
        assert outbox(web_desk, "escalation") == []
        assert fetch(local(url, base), {"comment": "Slow."})[0] == 200
    assert (ticket(web_desk, ref).satisfaction_score, len(outbox(web_desk, "escalation"))) \
        == (1, 1)


@pytest.mark.parametrize(("content_type", "body"), [
    ("multipart/form-data; boundary=xyz", b"not multipart at all"),
    ("multipart/form-data", b"--xyz\r\n\r\n"),
    ("multipart/form-data; boundary=xyz",
     b'--xyz\r\nContent-Disposition: form-data; name="comment"\r\n\r\ncut short'),
    ("multipart/form-data; boundary=xyz",
     b'--xyz\r\nContent-Disposition: form-data; name="comment"; filename="a.txt"\r\n\r\n'
     b"x\r\n--xyz--\r\n"),
    ("application/x-www-form-urlencoded; charset=bogus", b"comment=x"),
    ("application/x-www-form-urlencoded", b"score=9"),
])
def test_an_unreadable_form_is_400(web_desk: Desk, content_type: str, body: bytes) -> None:
    ref, _ = closed_ticket(web_desk)
    url = survey_urls(web_desk)[3]
    with serving(web_desk) as base:
        status, page = request(local(url, base), "POST", body, content_type)
    assert status == 400 and "We could not read your answer" in page
    assert ticket(web_desk, ref).satisfaction_score is None


def test_forged_or_expired_links_record_nothing(web_desk: Desk) -> None:
    ref, _ = closed_ticket(web_desk)
    secret, now = web_desk.secret(), int(web_desk.clock().timestamp())
    token = sign_link(secret, SURVEY, f"{ref}:1", now + 3600)
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    other_ticket = token.replace(f"{ref}:1", "MD-999:1")
    expired = sign_link(secret, SURVEY, f"{ref}:1", now - 10)
    with serving(web_desk) as base:
        for bad in (forged, other_ticket, "nonsense", sign_link(secret, STATUS, f"{ref}:1",
                                                                  now + 60)):
            status, page = fetch(f"{base}/survey/{bad}")
            assert status == 403 and "not valid" in page, bad
            assert fetch(f"{base}/survey/{bad}", {"comment": "x"})[0] == 403
        status, page = fetch(f"{base}/survey/{expired}")
        assert status == 410 and "expired" in page
    assert ticket(web_desk, ref).satisfaction_score is None
    assert event_count(web_desk, "satisfaction") == 0


def test_status_page_shows_only_the_public_history(web_desk: Desk) -> None:
    ref, _ = closed_ticket(web_desk)
    with web_desk.sessions.begin() as session:
        row = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        session.add(Message(ticket_id=row.id, direction=Direction.IN, kind=AuthorKind.NOTE,
                            internal=True, text="Customer is difficult, be careful",
                            created_at=madrid(2025, 11, 24, 11, 0)))
    [ack] = outbox(web_desk, "ack")
    # The acknowledgement carries the link (its expiry is the wall clock's, so take it
    # from the mail rather than signing another one a second later).
    # The text part may be quoted-printable, its copy of the link cut by a soft break.
    link = max(re.findall(rf"http://desk\.test/status/{ref}\.[^\s<\"=]+", ack.data.decode()),
               key=len)
    with serving(web_desk) as base:
        status, page = fetch(local(link, base))
    assert status == 200 and f"<h1>Request {ref}</h1>" in page
    assert "It does not work." in page and "Closed" in page
    assert "be careful" not in page
    assert "New ticket" not in page and "notify" not in page.lower()  # internal agent mail
