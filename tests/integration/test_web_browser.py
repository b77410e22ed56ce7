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
