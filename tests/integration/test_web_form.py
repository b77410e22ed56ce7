"""The web form at /new over real HTTP (requests), on SQLite and PostgreSQL.

The happy path in Chromium lives in test_web_browser.py; these are the fast checks of
the page itself and of the abuse cases: CSRF, honeypot, size, rate limits, and that
the acknowledgement never repeats the description of an unverified sender.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
import requests
from sqlalchemy import func, select

from maildesk.runtime.desk import Desk
from maildesk.store.models import Base, Contact, Message, Outbox, RawMessage, Ticket
from maildesk.types import Source
from tests.integration.test_survey import serving
from tests.integration.test_tick import make_desk

WEB = ('[web]\nbase_url = "http://desk.test"\nform_max_size = 200000\n'
       'form_per_address = 2\nform_per_ip = 3\n')
SECRET_PHRASE = "the red invoice 4471 is wrong"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Desk]:
    """One desk per engine for the module (opening one costs seconds); rows are emptied
    before each test."""
    root = tmp_path_factory.mktemp("form")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'maildesk.db'}"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), root / "maildesk.db")
    else:
        url = request.getfixturevalue("pg_url")
    desk = make_desk(root / "desk", url, WEB)
    yield desk
    desk.close()


@pytest.fixture
def form_desk(shared_desk: Desk) -> Desk:
    with shared_desk.sessions.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
    return shared_desk


def token_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def fields(token: str, email: str = "ana@cliente.example", **extra: str) -> dict[str, str]:
    return {"csrf": token, "name": "Ana Pérez", "email": email,
            "subject": "The invoice is wrong", "description": SECRET_PHRASE, "website": "",
            **extra}


def submit(base: str, client: requests.Session | None = None, files: object = None,
           **extra: str) -> requests.Response:
    client = client or requests.Session()
    page = client.get(f"{base}/new")
    assert page.status_code == 200
    return client.post(f"{base}/new", data=fields(token_of(page.text), **extra), files=files)


def count(desk: Desk, model: type) -> int:
    with desk.sessions() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_the_page_speaks_the_browser_language_and_labels_its_fields(form_desk: Desk) -> None:
    with serving(form_desk) as base:
        es = requests.get(f"{base}/new", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
        en = requests.get(f"{base}/new?lang=en", headers={"Accept-Language": "es"})
    assert '<html lang="es">' in es.text and "Enviar solicitud" in es.text
    assert '<html lang="en">' in en.text and "Send request" in en.text
    for name in ("name", "email", "subject", "description", "attachments"):
        assert f'<label for="{name}">' in en.text and f'id="{name}"' in en.text
    assert "<fieldset>" in en.text and "<script" not in en.text
    cookie = es.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_a_submission_opens_a_ticket_that_answers_without_quoting(form_desk: Desk) -> None:
    with serving(form_desk) as base:
        response = submit(base, files={"attachments": ("error.txt", b"trace 42", "text/plain")})
    assert response.status_code == 200
    ref = re.search(r"MD-\d+", response.text).group(0)
    assert "ana@cliente.example" in response.text and SECRET_PHRASE not in response.text
    with form_desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        raw = session.execute(select(RawMessage)).scalar_one()
        message = session.execute(select(Message).where(Message.raw_id == raw.id)).scalar_one()
        ack = session.execute(select(Outbox).where(Outbox.kind.like("ack%"))).scalar_one()
        customer = session.get(Contact, ticket.customer_id)
    assert (ticket.channel, raw.source, raw.source_ref) == ("web", "web", "web:127.0.0.1")
    assert customer.email == "ana@cliente.example" and customer.name == "Ana Pérez"
    assert SECRET_PHRASE in message.text
    assert ack.recipients == ["ana@cliente.example"]
    body = message_from_bytes(ack.data, _class=EmailMessage, policy=default)
    text = body.get_body(("plain",)).get_content()
    assert ref in body["Subject"] and SECRET_PHRASE not in text and "error.txt" not in text


def test_a_reply_to_the_acknowledgement_threads_into_the_ticket(form_desk: Desk) -> None:
    from maildesk.pipeline.flow import accept
    from maildesk.types import RawMail

    with serving(form_desk) as base:
        ref = re.search(r"MD-\d+", submit(base).text).group(0)
    with form_desk.sessions() as session:
        ack_id = session.execute(select(Outbox.message_id).where(Outbox.kind.like("ack%"))).scalar_one()
    reply = EmailMessage()
    reply["From"], reply["To"] = "ana@cliente.example", "support@acme.example"
    reply["Subject"], reply["In-Reply-To"] = "Re: The invoice is wrong", ack_id
    reply["Message-ID"] = "<reply-1@cliente.example>"
    reply.set_content("More detail.")
    result = accept(form_desk, RawMail(reply.as_bytes(), Source.SMTP))
    assert result.outcome is not None and result.outcome.ref == ref


def test_a_second_post_of_the_same_page_is_one_ticket(form_desk: Desk) -> None:
    with serving(form_desk) as base:
        client = requests.Session()
        token = token_of(client.get(f"{base}/new").text)
        first = client.post(f"{base}/new", data=fields(token))
        again = client.post(f"{base}/new", data=fields(token))
    ref = re.search(r"MD-\d+", first.text).group(0)
    assert again.status_code == 200 and ref in again.text
    assert count(form_desk, Ticket) == 1


def test_without_the_cookie_or_with_a_forged_token_nothing_is_stored(form_desk: Desk) -> None:
    with serving(form_desk) as base:
        token = token_of(requests.get(f"{base}/new").text)
        no_cookie = requests.post(f"{base}/new", data=fields(token))  # a cross-site post
        client = requests.Session()
        client.get(f"{base}/new")
        forged = client.post(f"{base}/new", data=fields(token[:-4] + "AAAA"))
    assert no_cookie.status_code == forged.status_code == 403
    assert 'value="Ana Pérez"' in forged.text  # the customer's typing is kept
    assert count(form_desk, RawMessage) == 0


def test_the_honeypot_looks_like_success_and_stores_nothing(form_desk: Desk) -> None:
    with serving(form_desk) as base:
        response = submit(base, website="http://spam.example")
    assert response.status_code == 200
    assert count(form_desk, RawMessage) == 0


def test_errors_are_tied_to_their_fields(form_desk: Desk) -> None:
    with serving(form_desk) as base:
        response = submit(base, email="not-an-address", subject="")
    assert response.status_code == 400
    html = response.text
    assert re.search(r'id="email"[^>]*aria-describedby="email-error email-hint"', html)
    assert re.search(r'id="subject"[^>]*aria-invalid="true"', html)
    assert '<a href="#email">' in html and 'role="alert"' in html
    assert count(form_desk, RawMessage) == 0


def test_too_large_is_refused_with_the_form(form_desk: Desk) -> None:
    with serving(form_desk) as base:
        response = submit(base, files={"attachments": ("big.bin", b"x" * 300_000,
                                                       "application/octet-stream")})
    assert response.status_code == 413 and 'name="csrf"' in response.text
    assert count(form_desk, RawMessage) == 0


def test_rate_limits_per_address_and_per_ip(form_desk: Desk) -> None:
    with serving(form_desk) as base:
        codes = [submit(base, email="flood@cliente.example").status_code for _ in range(3)]
        other = submit(base, email="other@cliente.example").status_code
        fourth = submit(base, email="third@cliente.example").status_code
    assert codes == [200, 200, 429]  # per address: 2 per window
    assert (other, fourth) == (200, 429)  # per IP: 3 per window
    assert count(form_desk, RawMessage) == 3
