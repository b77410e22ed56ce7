"""The HTML report as a person sees it: Chromium at desktop and phone widths.

A month of a desk whose customers have long addresses and whose only activity was out
of business hours: nothing may overflow the page, bar labels are whole (wrapped, never
cut), readable, and carry their full value in a title; zero business time is said in
words rather than as "0m 00s". Screenshots land in the test's temp dir.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from maildesk.reports import render
from maildesk.reports.model import (
    Agents,
    Backlog,
    BacklogRow,
    Count,
    Durations,
    LowScore,
    PersonRow,
    Recurring,
    Reopens,
    Report,
    Satisfaction,
    Sla,
    SlaByPriority,
    SlaFigures,
    Volume,
)
from maildesk.reports.queries import make_period

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NOW = datetime(2024, 4, 1, 7, 0, tzinfo=UTC)
CUSTOMERS = ("alice@customer-corp.example", "bartholomew.featherstonehaugh@subsidiary."
             "very-long-customer-domain.example", "ops@x.example")
WIDE_TABLES = {"SLA by priority", "Agents", "Teams"}
ZERO = Durations(count=3, median=0.0, p90=0.0)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no system Chromium")]


def counts(*pairs: tuple[str, int]) -> tuple[Count, ...]:
    return tuple(Count(k, n) for k, n in pairs)


def night_shift_report() -> Report:
    """30 days; three tickets, all answered and resolved at night (zero business time)."""
    first = date(2024, 3, 1)
    days = counts(*((str(first + timedelta(days=i)), i % 3) for i in range(31)))
    person = PersonRow("María José Fernández-Villaverde de la Torre", 3, 3, 0.0, 4.5, 2)
    return Report(
        period=make_period(first, date(2024, 3, 31), "Europe/Madrid", NOW),
        volume=Volume(3, days, counts(("incident", 2), ("question", 1)),
                      counts(("general", 3)), counts(("P3", 3)), counts(("smtp", 3))),
        first_response=ZERO, resolution=ZERO, reopens=Reopens(3, 0, 0.0),
        sla=Sla(SlaFigures(3, 0), SlaFigures(3, 0),
                (SlaByPriority("P3", SlaFigures(3, 0), SlaFigures(3, 0)),), ()),
        backlog=Backlog(NOW, (BacklogRow("open", (0, 0, 0, 0)),)),
        agents=Agents((person,), (PersonRow("first-line-support-europe", 3, 3, 0.0, 4.5, 2),)),
        satisfaction=Satisfaction(3, 2, 4.5, (0, 0, 0, 1, 1),
                                  (LowScore("MD-2", 2, "Answered at 3 a.m. by a robot?", None),)),
        recurring=Recurring(counts(("printer on the third floor keeps jamming every "
                                    "monday morning", 2),), counts(("printer", 2)),
                            counts(("hardware", 2)), counts(*((c, 3 - i) for i, c in
                                                              enumerate(CUSTOMERS)))))


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render(night_shift_report(), "html"), encoding="utf-8")
    return path


@pytest.fixture
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


MEASURE = """() => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > root.clientWidth + 1
                 && !e.closest('.wide'))
    .map(e => e.tagName + '.' + e.className);
  const labels = [...document.querySelectorAll('.hbar .label')].map(e => ({
    text: e.textContent, title: e.title, cut: e.scrollWidth > e.clientWidth + 1,
    size: parseFloat(getComputedStyle(e).fontSize)}));
  const svgText = [...document.querySelectorAll('svg.chart text')].map(e => {
    const box = e.getBoundingClientRect(), svg = e.closest('svg').getBoundingClientRect();
    return {text: e.textContent, height: box.height,
            inside: box.left >= svg.left - 1 && box.right <= svg.right + 1};
  });
  const overlaps = [...document.querySelectorAll('svg.chart')].flatMap(svg => {
    const boxes = [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect())
      .sort((a, b) => a.left - b.left);
    return boxes.slice(1).filter((b, i) => b.left < boxes[i].right
      && b.top < boxes[i].bottom && boxes[i].top < b.bottom).map(() => svg.dataset.chart);
  });
  const scrolled = [...document.querySelectorAll('.wide')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.querySelector('caption').textContent);
  return {page: root.scrollWidth, view: root.clientWidth, wide, labels, svgText, overlaps,
          scrolled, text: document.body.innerText};
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_report_fits_and_labels_are_whole(report_file: Path, browser, width: int) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(report_file.as_uri())
    page.screenshot(path=str(report_file.with_name(f"report-{width}.png")), full_page=True)
    seen = page.evaluate(MEASURE)
    assert seen["page"] <= seen["view"], "the page scrolls sideways"
    assert seen["wide"] == [] and seen["overlaps"] == []
    # Tables fit; on a phone the widest may scroll inside their own box, never the page.
    assert seen["scrolled"] == [] if width > 600 else set(seen["scrolled"]) <= WIDE_TABLES, \
        seen["scrolled"]
    labels = {label["text"]: label for label in seen["labels"]}
    for customer in CUSTOMERS:
        assert customer in labels, customer  # whole, not "ilice@customer-corp.e…"
        assert labels[customer]["title"] == customer
    assert all(not label["cut"] and label["size"] >= 12 for label in seen["labels"])
    assert seen["svgText"] and all(t["height"] >= 12 and t["inside"] for t in seen["svgText"])
    assert "0m 00s" not in seen["text"]
    assert "none yet within business hours" in seen["text"]
