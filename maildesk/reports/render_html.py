"""The report as ONE self-contained HTML page: inline CSS and SVG, no script, no links.

Sections are headed (h1/h2/h3) and every chart has its numbers in a table, so the page
works with a screen reader, in a mail client and printed. The markup is the packaged,
autoescaped Jinja template templates/report.html.j2; this module only turns the Report
into the rows, figures and chart geometry (charts.py) that the template lays out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from maildesk.reports import charts
from maildesk.reports.fmt import business_duration, minutes, number, percent
from maildesk.reports.model import Count, Durations, PersonRow, Report

ENV = Environment(loader=PackageLoader("maildesk.reports", "templates"),
                  autoescape=select_autoescape(enabled_extensions=("html.j2",), default=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True, slots=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    hidden_caption: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """A small chart with its table, under an h3."""

    title: str
    chart: charts.HBars
    table: Table


def render_html(report: Report) -> str:
    return ENV.get_template("report.html.j2").render(view(report))


def view(report: Report) -> dict[str, Any]:
    """Everything the template shows, already counted and formatted."""
    return {"p": report.period, "now": report.period.now.strftime("%Y-%m-%d %H:%M"),
            "kpis": _kpis(report), "volume": _volume(report), "times": _times(report),
            "sla": _sla(report), "backlog": _backlog(report), "agents": _agents(report),
            "satisfaction": _satisfaction(report), "recurring": _recurring(report),
            "time_spent": _time_spent(report)}


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[object]],
          numeric: Iterable[int] = (), hidden_caption: bool = False) -> Table:
    return Table(caption, tuple(headers), tuple(tuple(str(v) for v in r) for r in rows),
                 frozenset(numeric), hidden_caption)


def _counts_block(name: str, title: str, counts: Sequence[Count]) -> Block:
    chart = charts.hbars(name, title, [c.key for c in counts], [c.count for c in counts])
    return Block(title, chart, table(title, ["", "tickets"], [(c.key, c.count) for c in counts],
                                     (1,), hidden_caption=True))


def _kpis(report: Report) -> list[tuple[str, str]]:
    return [(str(report.volume.total), "tickets created"),
            (business_duration(report.first_response.median), "median first response"),
            (business_duration(report.resolution.median), "median resolution"),
            (percent(report.sla.response.compliance), "response SLA met"),
            (str(report.backlog.total), "open now"),
            (number(report.satisfaction.average), "satisfaction (1-5)")]


def _volume(report: Report) -> dict[str, Any]:
    v = report.volume
    return {"total": v.total,
            "chart": charts.columns("volume-by-day", "Tickets created per day",
                                    [c.key[5:] for c in v.by_day],
                                    [c.count for c in v.by_day]),
            "days": table("Tickets per day", ["day", "tickets"],
                          [(c.key, c.count) for c in v.by_day], (1,)),
            "blocks": [_counts_block(f"volume-{k}", f"By {k}", counts) for k, counts in
                       (("type", v.by_type), ("queue", v.by_queue),
                        ("priority", v.by_priority), ("channel", v.by_channel))]}


def _all_zero(*durations: Durations) -> bool:
    """Measured, and every figure zero: all the time so far fell outside business hours."""
    measured = [d for d in durations if d.count]
    return bool(measured) and all(round(d.median or 0) == round(d.p90 or 0) == 0
                                  for d in measured)


def _times(report: Report) -> dict[str, Any]:
    fr, res, r = report.first_response, report.resolution, report.reopens
    rows = [("First response", fr.count, business_duration(fr.median),
             business_duration(fr.p90)),
            ("Resolution", res.count, business_duration(res.median),
             business_duration(res.p90))]
    hours = [x / 3600 if x is not None else 0 for x in (fr.median, fr.p90, res.median,
                                                        res.p90)]
    chart = charts.hbars("times", "Median and p90 in business hours",
                         ["first response median", "first response p90", "resolution median",
                          "resolution p90"], hours, fmt="{:.1f} h")
    return {"chart": None if _all_zero(fr, res) else chart,
            "table": table("Business time", ["", "tickets", "median", "p90"], rows, (1, 2, 3)),
            "reopened": r.reopened, "resolved": r.resolved, "rate": percent(r.rate)}


def _sla(report: Report) -> dict[str, Any]:
    s = report.sla
    values = [s.response.compliance, s.resolution.compliance]
    rows = [(p.priority, p.response.with_due, p.response.breached,
             percent(p.response.compliance), p.resolution.with_due, p.resolution.breached,
             percent(p.resolution.compliance)) for p in s.by_priority]
    rows.insert(0, ("all", s.response.with_due, s.response.breached,
                    percent(s.response.compliance), s.resolution.with_due,
                    s.resolution.breached, percent(s.resolution.compliance)))
    breaches = [(b.ref, b.kind, b.priority, b.at.strftime("%Y-%m-%d %H:%M"), b.subject)
                for b in s.recent_breaches]
    return {"chart": charts.hbars("sla", "SLA met", ["response", "resolution"],
                                  [100 * (x or 0) for x in values], fmt="{:.1f}%",
                                  maximum=100),
            "by_priority": table("SLA by priority",
                                 ["priority", "response due", "breached", "met",
                                  "resolution due", "breached", "met"], rows, range(1, 7)),
            "breaches": table("Recent breaches",
                              ["ticket", "kind", "priority", "at (UTC)", "subject"], breaches)}


def _backlog(report: Report) -> dict[str, Any]:
    b = report.backlog
    totals = [sum(r.counts[i] for r in b.rows) for i in range(len(b.buckets))]
    rows = [(r.status, *r.counts, r.total) for r in b.rows] + [("total", *totals, b.total)]
    return {"total": b.total,
            "chart": charts.hbars("backlog", "Open tickets by age", list(b.buckets), totals,
                                  color=charts.ALERT),
            "table": table("Open tickets by status and age", ["status", *b.buckets, "total"],
                           rows, range(1, len(b.buckets) + 2))}


def _people_table(caption: str, rows: Sequence[PersonRow]) -> Table:
    return table(caption, ["name", "handled", "resolved", "median first response",
                           "satisfaction", "rated"],
                 [(p.name, p.handled, p.resolved, business_duration(p.median_first_response),
                   number(p.satisfaction), p.rated) for p in rows], (1, 2, 3, 4, 5))


def _agents(report: Report) -> dict[str, Any]:
    a = report.agents
    return {"chart": charts.hbars("agents", "Tickets handled per agent",
                                  [p.name for p in a.agents], [p.handled for p in a.agents]),
            "agents": _people_table("Agents", a.agents),
            "teams": _people_table("Teams", a.teams)}


def _time_spent(report: Report) -> dict[str, Any]:
    t = report.time_spent
    tables = [table(f"Time per {label}", [label, "time", "minutes", "entries"],
                    [(c.key, minutes(c.minutes), c.minutes, c.entries) for c in counts],
                    (1, 2, 3))
              for label, counts in (("queue", t.by_queue), ("agent", t.by_agent),
                                    ("type", t.by_type))]
    return {"total": minutes(t.total_minutes), "entries": t.entries,
            "chart": charts.hbars("time-agents", "Minutes logged per agent",
                                  [c.key for c in t.by_agent], [c.minutes for c in t.by_agent]),
            "tables": tables}


def _satisfaction(report: Report) -> dict[str, Any]:
    s = report.satisfaction
    low = [(c.ref, c.score, c.assignee or "-", c.comment or "-") for c in s.low_scores]
    return {"average": number(s.average), "rated": s.rated, "resolved": s.resolved,
            "rate": percent(s.response_rate),
            "chart": charts.columns("satisfaction", "Satisfaction scores",
                                    ["1", "2", "3", "4", "5"], list(s.distribution),
                                    height=180, max_width=360),
            "table": table("Answers per score", ["score", "answers"],
                           [(i, n) for i, n in enumerate(s.distribution, start=1)], (0, 1)),
            "low": table("Low scores (2 or less)", ["ticket", "score", "agent", "comment"],
                         low, (1,))}


def _recurring(report: Report) -> list[Block]:
    r = report.recurring
    return [_counts_block(f"recurring-{k}", title, counts) for k, title, counts in
            (("subjects", "Repeated subjects", r.subjects),
             ("terms", "Frequent subject terms", r.terms),
             ("tags", "Tags", r.tags), ("customers", "Tickets per customer", r.customers))]
