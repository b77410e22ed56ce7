"""The report as one CSV in long format: section, metric, key, value.

One file holds every table, and a spreadsheet pivot rebuilds any of them; durations are
in business seconds and rates are fractions, so nothing needs parsing back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from maildesk.reports.model import Count, Durations, Report

Row = tuple[str, str, str, object]


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "metric", "key", "value"])
    for section, metric, key, value in rows(report):
        writer.writerow([section, metric, key, "" if value is None else value])
    return out.getvalue()


def rows(report: Report) -> Iterator[Row]:
    p = report.period
    yield "period", "first_day", "", p.first_day.isoformat()
    yield "period", "last_day", "", p.last_day.isoformat()
    yield "period", "queue", "", p.queue or ""
    yield "period", "brand", "", p.brand or ""
    yield from _volume(report)
    yield from _durations("first_response", report.first_response)
    yield from _durations("resolution", report.resolution)
    r = report.reopens
    yield from (("reopens", "resolved", "", r.resolved), ("reopens", "reopened", "", r.reopened),
                ("reopens", "rate", "", r.rate))
    yield from _sla(report)
    yield from _backlog(report)
    yield from _people(report)
    t = report.time_spent
    yield "time_spent", "total_minutes", "", t.total_minutes
    yield "time_spent", "entries", "", t.entries
    for metric, rows_ in (("queue", t.by_queue), ("agent", t.by_agent), ("type", t.by_type)):
        for row in rows_:
            yield "time_spent", f"minutes_by_{metric}", row.key, row.minutes
    yield from _satisfaction(report)
    rec = report.recurring
    for metric, counts in (("subject", rec.subjects), ("term", rec.terms), ("tag", rec.tags),
                           ("customer", rec.customers)):
        yield from _counts("recurring", metric, counts)


def _counts(section: str, metric: str, counts: tuple[Count, ...]) -> Iterator[Row]:
    return ((section, metric, c.key, c.count) for c in counts)


def _volume(report: Report) -> Iterator[Row]:
    v = report.volume
    yield "volume", "total", "", v.total
    for metric, counts in (("day", v.by_day), ("type", v.by_type), ("queue", v.by_queue),
                           ("priority", v.by_priority), ("channel", v.by_channel)):
        yield from _counts("volume", metric, counts)


def _durations(section: str, d: Durations) -> Iterator[Row]:
    yield section, "count", "", d.count
    yield section, "median_seconds", "", d.median
    yield section, "p90_seconds", "", d.p90


def _sla(report: Report) -> Iterator[Row]:
    s = report.sla
    for kind in ("response", "resolution"):
        figures = getattr(s, kind)
        yield "sla", f"{kind}_with_due", "all", figures.with_due
        yield "sla", f"{kind}_breached", "all", figures.breached
        yield "sla", f"{kind}_compliance", "all", figures.compliance
        for row in s.by_priority:
            yield "sla", f"{kind}_with_due", row.priority, getattr(row, kind).with_due
            yield "sla", f"{kind}_breached", row.priority, getattr(row, kind).breached
    for b in s.recent_breaches:
        yield "sla", f"breach_{b.kind}", b.ref, b.at.isoformat()


def _backlog(report: Report) -> Iterator[Row]:
    b = report.backlog
    for row in b.rows:
        for bucket, n in zip(b.buckets, row.counts, strict=True):
            yield "backlog", row.status, bucket, n
    yield "backlog", "total", "", b.total


def _people(report: Report) -> Iterator[Row]:
    for section, people in (("agents", report.agents.agents), ("teams", report.agents.teams)):
        for p in people:
            yield section, "handled", p.name, p.handled
            yield section, "resolved", p.name, p.resolved
            yield section, "median_first_response_seconds", p.name, p.median_first_response
            yield section, "satisfaction", p.name, p.satisfaction
            yield section, "rated", p.name, p.rated


def _satisfaction(report: Report) -> Iterator[Row]:
    s = report.satisfaction
    yield "satisfaction", "average", "", s.average
    yield "satisfaction", "rated", "", s.rated
    yield "satisfaction", "response_rate", "", s.response_rate
    for score, n in enumerate(s.distribution, start=1):
        yield "satisfaction", "score", str(score), n
    for low in s.low_scores:
        yield "satisfaction", f"low_score_{low.score}", low.ref, low.comment
