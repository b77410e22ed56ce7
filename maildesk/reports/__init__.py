"""Reports: how the desk is doing, from SQL aggregates to text, CSV, JSON or one HTML page.

`build()` computes a Report (frozen values, see model.py) and `render()` draws it; the
command `maildesk report` is a thin edge over both.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from maildesk.reports.model import Report, to_dict
from maildesk.reports.queries import build_report, make_period
from maildesk.reports.render_csv import render_csv
from maildesk.reports.render_html import render_html
from maildesk.reports.render_text import render_text

FORMATS = ("text", "csv", "json", "html")
DEFAULT_DAYS = 30


def build(session: Session, *, timezone: str, now: datetime, first_day: date | None = None,
          last_day: date | None = None, queue: str | None = None,
          brand: str | None = None) -> Report:
    """The report for local days [first_day, last_day]; by default the last 30 days."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    last_day = last_day or today
    first_day = first_day or last_day - timedelta(days=DEFAULT_DAYS - 1)
    return build_report(session, make_period(first_day, last_day, timezone, now, queue,
                                                 brand))


def render(report: Report, fmt: str) -> str:
    """The report as text (80 columns), csv (long format), json or html (one page)."""
    if fmt == "json":
        return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
    renderers = {"text": render_text, "csv": render_csv, "html": render_html}
    if fmt not in renderers:
        raise ValueError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")
    return renderers[fmt](report)
