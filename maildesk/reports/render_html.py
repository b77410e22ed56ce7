"""The report as ONE self-contained HTML page: inline CSS and SVG, no script, no links.

Sections are headed (h1/h2/h3) and every chart has its numbers in a table, so the page
works with a screen reader, in a mail client and printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from maildesk.reports import svg
from maildesk.reports.fmt import duration, number, percent
from maildesk.reports.model import Count, PersonRow, Report

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
 margin:0 auto;max-width:1100px;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{border-bottom:2px solid #2f6f9f;padding-bottom:4px;
 margin-top:36px}h3{font-size:1em;margin:18px 0 6px}
.note{color:#555;margin:0 0 12px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;
 margin:16px 0}
.kpi{border:1px solid #d7dde3;border-radius:6px;padding:10px 12px;background:#f7f9fb}
.kpi b{display:block;font-size:1.5em}.kpi span{color:#555;font-size:.9em}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:18px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:.92em}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e3e7eb;padding:3px 10px 3px 0;text-align:left;
 vertical-align:top}
td.n,th.n{text-align:right}
figure{margin:8px 0}figcaption{font-size:.9em;color:#555}
details summary{cursor:pointer;color:#2f6f9f}
svg.chart{max-width:100%;height:auto;display:block}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media print{details{display:block}details>summary{display:none}}
"""


def render_html(report: Report) -> str:
    p = report.period
    scope = f" — queue {escape(p.queue)}" if p.queue else ""
    body = "".join([_kpis(report), _volume(report), _times(report), _sla(report),
                    _backlog(report), _agents(report), _satisfaction(report),
                    _recurring(report)])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>maildesk report {p.first_day} to {p.last_day}</title>"
            f"<style>{CSS}</style></head><body><main>"
            f"<h1>Support report: {p.first_day} to {p.last_day}{scope}</h1>"
            f'<p class="note">Tickets created in the period ({escape(p.timezone)} days), spam '
            f"excluded. Times are business time. Backlog as of "
            f"{p.now.strftime('%Y-%m-%d %H:%M')} UTC.</p>{body}</main></body></html>\n")


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[object]],
          numeric: Sequence[int] = (), hidden_caption: bool = False) -> str:
    head = "".join(f'<th scope="col"{_n(i, numeric)}>{escape(h)}</th>'
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{_n(i, numeric)}>{escape(str(v))}</td>"
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    body = body or f'<tr><td colspan="{len(headers)}">none</td></tr>'
    hidden = ' class="sr"' if hidden_caption else ""
    return (f"<table><caption{hidden}>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _n(index: int, numeric: Sequence[int]) -> str:
    return ' class="n"' if index in numeric else ""


def section(key: str, title: str, content: str) -> str:
    return f'<section id="{key}" aria-labelledby="h-{key}"><h2 id="h-{key}">{title}</h2>' \
           f"{content}</section>"


def _counts_block(name: str, title: str, counts: Sequence[Count]) -> str:
    chart = svg.hbars(name, title, [c.key for c in counts], [c.count for c in counts])
    return (f"<div><h3>{escape(title)}</h3><figure>{chart}</figure>" +
            table(title, ["", "tickets"], [(c.key, c.count) for c in counts], (1,),
                  hidden_caption=True) + "</div>")


def _kpis(report: Report) -> str:
    items = [(str(report.volume.total), "tickets created"),
             (duration(report.first_response.median), "median first response"),
             (duration(report.resolution.median), "median resolution"),
             (percent(report.sla.response.compliance), "response SLA met"),
             (str(report.backlog.total), "open now"),
             (number(report.satisfaction.average), "satisfaction (1-5)")]
    cells = "".join(f'<div class="kpi"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
                    for v, k in items)
    return f'<section class="kpis" aria-label="Key figures">{cells}</section>'


def _volume(report: Report) -> str:
    v = report.volume
    chart = svg.columns("volume-by-day", "Tickets created per day",
                        [c.key[5:] for c in v.by_day], [c.count for c in v.by_day])
    days = table("Tickets per day", ["day", "tickets"], [(c.key, c.count) for c in v.by_day],
                 (1,))
    blocks = "".join(_counts_block(f"volume-{k}", f"By {k}", counts) for k, counts in
                     (("type", v.by_type), ("queue", v.by_queue),
                      ("priority", v.by_priority), ("channel", v.by_channel)))
    return section("volume", f"Volume: {v.total} tickets",
                   f"<figure>{chart}<figcaption>Tickets created per day</figcaption></figure>"
                   f"<details><summary>Tickets per day as a table</summary>{days}</details>"
                   f'<div class="grid">{blocks}</div>')


def _times(report: Report) -> str:
    fr, res, r = report.first_response, report.resolution, report.reopens
    rows = [("First response", fr.count, duration(fr.median), duration(fr.p90)),
            ("Resolution", res.count, duration(res.median), duration(res.p90))]
    hours = [x / 3600 if x is not None else 0 for x in (fr.median, fr.p90, res.median,
                                                        res.p90)]
    chart = svg.hbars("times", "Median and p90 in business hours",
                      ["first resp. median", "first resp. p90", "resolution median",
                       "resolution p90"], hours, fmt="{:.1f} h")
    return section("times", "Response and resolution",
                   f"<figure>{chart}</figure>" +
                   table("Business time", ["", "tickets", "median", "p90"], rows, (1, 2, 3)) +
                   f"<p>Reopened: {r.reopened} of {r.resolved} resolved tickets "
                   f"({percent(r.rate)}).</p>")


def _sla(report: Report) -> str:
    s = report.sla
    values = [s.response.compliance, s.resolution.compliance]
    chart = svg.hbars("sla", "SLA met", ["response", "resolution"],
                      [100 * (x or 0) for x in values], fmt="{:.1f}%", maximum=100)
    rows = [(p.priority, p.response.with_due, p.response.breached,
             percent(p.response.compliance), p.resolution.with_due, p.resolution.breached,
             percent(p.resolution.compliance)) for p in s.by_priority]
    rows.insert(0, ("all", s.response.with_due, s.response.breached,
                    percent(s.response.compliance), s.resolution.with_due,
                    s.resolution.breached, percent(s.resolution.compliance)))
    breaches = [(b.ref, b.kind, b.priority, b.at.strftime("%Y-%m-%d %H:%M"), b.subject)
                for b in s.recent_breaches]
    return section("sla", "SLA compliance", f"<figure>{chart}</figure>" + table(
        "SLA by priority", ["priority", "response due", "breached", "met", "resolution due",
                            "breached", "met"], rows, (1, 2, 3, 4, 5, 6)) +
        table("Recent breaches", ["ticket", "kind", "priority", "at (UTC)", "subject"],
              breaches))


def _backlog(report: Report) -> str:
    b = report.backlog
    totals = [sum(r.counts[i] for r in b.rows) for i in range(len(b.buckets))]
    chart = svg.hbars("backlog", "Open tickets by age", list(b.buckets), totals,
                      color=svg.ALERT)
    rows = [(r.status, *r.counts, r.total) for r in b.rows] + [("total", *totals, b.total)]
    return section("backlog", f"Backlog: {b.total} open now", f"<figure>{chart}</figure>" +
                   table("Open tickets by status and age", ["status", *b.buckets, "total"],
                         rows, range(1, len(b.buckets) + 2)))


def _people_table(caption: str, rows: Sequence[PersonRow]) -> str:
    return table(caption, ["name", "handled", "resolved", "median first response",
                           "satisfaction", "rated"],
                 [(p.name, p.handled, p.resolved, duration(p.median_first_response),
                   number(p.satisfaction), p.rated) for p in rows], (1, 2, 3, 4, 5))


def _agents(report: Report) -> str:
    a = report.agents
    chart = svg.hbars("agents", "Tickets handled per agent", [p.name for p in a.agents],
                      [p.handled for p in a.agents])
    return section("agents", "Agents and teams", f"<figure>{chart}</figure>" +
                   _people_table("Agents", a.agents) + _people_table("Teams", a.teams))


def _satisfaction(report: Report) -> str:
    s = report.satisfaction
    chart = svg.columns("satisfaction", "Satisfaction scores", ["1", "2", "3", "4", "5"],
                        list(s.distribution), width=360, height=180, fluid=False)
    low = [(c.ref, c.score, c.assignee or "-", c.comment or "-") for c in s.low_scores]
    return section("satisfaction", "Satisfaction",
                   f"<p>Average <b>{number(s.average)}</b> from {s.rated} answers; response "
                   f"rate {percent(s.response_rate)} of {s.resolved} resolved tickets.</p>"
                   f"<figure>{chart}<figcaption>Answers per score (1 = bad, 5 = good)"
                   f"</figcaption></figure>" +
                   table("Answers per score", ["score", "answers"],
                         [(i, n) for i, n in enumerate(s.distribution, start=1)], (0, 1)) +
                   table("Low scores (2 or less)", ["ticket", "score", "agent", "comment"],
                         low, (1,)))


def _recurring(report: Report) -> str:
    r = report.recurring
    blocks = "".join(_counts_block(f"recurring-{k}", title, counts) for k, title, counts in
                     (("subjects", "Repeated subjects", r.subjects),
                      ("terms", "Frequent subject terms", r.terms),
                      ("tags", "Tags", r.tags), ("customers", "Tickets per customer", r.customers)))
    return section("recurring", "Recurring problems", f'<div class="grid">{blocks}</div>')
