"""The survey and status pages in a real headless Chromium (Playwright, the system browser).

Checks what a customer sees and does: the page language, headings, the answer form
(score pre-selected, nothing recorded until the button) submitted by clicking, the
refusal page of a forged link, and a status page without internal mail. Runs on SQLite and PostgreSQL like the rest of the web tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maildesk.runtime.desk import Desk
from maildesk.tickets.links import status_link
from tests.integration.test_survey import WEB, closed_ticket, local, serving, survey_urls
from tests.integration.test_tick import make_desk, ticket

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no system Chromium")]


@pytest.fixture
def browser_page() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


@pytest.fixture
def spanish_desk(tmp_path: Path, db_url: str) -> Iterator[Desk]:
    desk = make_desk(tmp_path / "desk", db_url, WEB)
    yield desk
    desk.close()


def spanish_closed_ticket(desk: Desk) -> str:
    ref, _ = closed_ticket(desk)
    with desk.sessions.begin() as session:
        from maildesk.tickets.operations import find_ticket_by_ref

        row = find_ticket_by_ref(session, ref)
        assert row is not None
        row.language = "es"
    return ref


def test_survey_choose_and_comment_in_spanish(spanish_desk: Desk, browser_page) -> None:  # noqa: ANN001
    ref = spanish_closed_ticket(spanish_desk)
    page = browser_page
    with serving(spanish_desk) as base:
        response = page.goto(local(survey_urls(spanish_desk)[1], base))
        assert response.status == 200
        assert page.get_attribute("html", "lang") == "es"
        assert page.locator("h1").inner_text() == f"Su valoración de la solicitud {ref}"
        assert "2 sobre 5" in page.locator("main").inner_text()
        assert page.get_by_label("2", exact=True).is_checked()
        assert ticket(spanish_desk, ref).satisfaction_score is None  # opening is not answering
        page.get_by_label("3", exact=True).check()
        page.get_by_label("¿Quiere contarnos algo más? (opcional)").fill("Tardaron un poco.")
        page.get_by_role("button", name="Enviar valoración").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Gracias por su valoración"
        assert "3 sobre 5" in page.locator("main").inner_text()
    row = ticket(spanish_desk, ref)
    assert (row.satisfaction_score, row.satisfaction_comment) == (3, "Tardaron un poco.")


def test_forged_link_page(spanish_desk: Desk, browser_page) -> None:  # noqa: ANN001
    ref = spanish_closed_ticket(spanish_desk)
    url = survey_urls(spanish_desk)[4]
    with serving(spanish_desk) as base:
        response = browser_page.goto(local(url[:-3] + "zzz", base))
        assert response.status == 403
        assert browser_page.locator("h1").inner_text() == "This link is not valid"
    assert ticket(spanish_desk, ref).satisfaction_score is None


def test_status_page(spanish_desk: Desk, browser_page) -> None:  # noqa: ANN001
    ref = spanish_closed_ticket(spanish_desk)
    with serving(spanish_desk) as base:
        response = browser_page.goto(local(status_link(spanish_desk, ref), base))
        assert response.status == 200
    page = browser_page
    assert page.get_attribute("html", "lang") == "es"
    assert page.locator("h1").inner_text() == f"Solicitud {ref}"
    assert page.locator("h2").inner_text() == "Historial"
    assert "Cerrada" in page.locator("dl").inner_text()
    history = page.locator("article").all_inner_texts()
    assert any("It does not work." in text for text in history)
    assert not any("notify" in text.lower() or "New ticket" in text for text in history)
    assert page.locator("script").count() == 0


def test_web_form_opens_a_ticket_and_acknowledges_it(spanish_desk: Desk, browser_page,  # noqa: ANN001
                                                      smtp_sink, tmp_path: Path) -> None:
    """A customer fills the Spanish form, attaches a file and sends it: the confirmation
    page names the ticket, and the acknowledgement reaches the given address by SMTP."""
    import threading
    from email import message_from_bytes
    from email.policy import default

    from maildesk.config.model import RelayConfig
    from maildesk.outbox.send import flush_once
    from maildesk.store.models import Ticket

    upload = tmp_path / "captura.txt"
    upload.write_text("error 500")
    page = browser_page
    with serving(spanish_desk) as base:
        assert page.goto(f"{base}/new?lang=es").status == 200
        assert page.locator("h1").inner_text() == "Contactar con soporte"
        page.get_by_label("Su nombre *").fill("Lucía Gómez")
        page.get_by_label("Su dirección de correo *").fill("lucia@cliente.example")
        page.get_by_label("Asunto *").fill("No puedo entrar")
        page.get_by_label("Descripción *").fill("La contraseña no funciona desde ayer.")
        page.get_by_label("Adjuntos (opcional, hasta 10 MB en total)").set_input_files(
            str(upload))
        page.get_by_role("button", name="Enviar solicitud").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Hemos recibido su solicitud"
        confirmation = page.locator("main").inner_text()
    with spanish_desk.sessions() as session:
        row = session.query(Ticket).one()
    assert row.ref in confirmation and "lucia@cliente.example" in confirmation
    assert (row.channel, row.subject) == ("web", "No puedo entrar")
    port, recorder = smtp_sink
    sender = threading.Thread(target=flush_once, args=(  # Playwright holds this thread's loop
        spanish_desk.sessions, RelayConfig(host="127.0.0.1", port=port)))
    sender.start()
    sender.join(60)
    to_customer = [e for e in recorder.received if e.rcpt_tos == ["lucia@cliente.example"]]
    assert len(to_customer) == 1
    ack = message_from_bytes(to_customer[0].content, policy=default)
    assert row.ref in ack["Subject"]
    assert "La contraseña" not in ack.get_body(("plain",)).get_content()
