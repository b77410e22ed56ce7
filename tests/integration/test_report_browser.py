"""The HTML report in a real headless Chromium: it loads offline, with charts and sections."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from maildesk.reports import build, render
from maildesk.store.db import make_engine
from maildesk.store.migrate import upgrade

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
SECTIONS = ("volume", "times", "sla", "backlog", "agents", "satisfaction", "recurring")
COLUMN_CHARTS = ("volume-by-day", "satisfaction")  # SVG
BAR_CHARTS = ("volume-type", "volume-queue", "volume-priority", "volume-channel", "times", "sla",
              "backlog", "agents", "recurring-terms")  # HTML

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium")]


def _html(tmp_path: Path) -> Path:
    from tests.unit.test_report import NOW, TZ, seed

    engine = make_engine(f"sqlite:///{tmp_path / 'report.db'}")
    upgrade(engine)
    with Session(engine) as session, session.begin():
        seed(session)
        report = build(session, timezone=TZ, now=NOW, first_day=date(2024, 3, 4),
                       last_day=date(2024, 3, 10))
    engine.dispose()
    path = tmp_path / "report.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    return path


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-extensions",
                           "--no-first-run", *args], capture_output=True, text=True,
                          timeout=90)


def test_html_report_renders_in_chromium(tmp_path: Path) -> None:
    page = _html(tmp_path)
    dom = _chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "<h1>Support report: 2024-03-04 to 2024-03-10</h1>" in html
    for section in SECTIONS:
        assert re.search(rf'<section id="{section}"[^>]*><h2', html), section
    for chart in COLUMN_CHARTS:
        svg = re.search(rf'<svg class="chart" data-chart="{chart}"[^>]*>(.*?)</svg>', html,
                        re.S)
        assert svg and "<title" in svg.group(1) and "<rect" in svg.group(1), chart
    for chart in BAR_CHARTS:
        bars = re.search(rf'<div class="chart hbars" data-chart="{chart}" role="img" '
                         rf'aria-label="[^"]+">(.*?)</figure>', html, re.S)
        assert bars and '<span class="fill" style="width:' in bars.group(1), chart
        assert re.search(r'<span class="label" title="([^"]+)">\1</span>', bars.group(1)), chart
    assert html.count("<table>") >= 10 and "<script" not in html
    shot = tmp_path / "report.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 10_000

