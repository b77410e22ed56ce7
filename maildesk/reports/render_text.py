"""The report as plain text for an 80-column terminal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from maildesk.reports.fmt import duration, minutes, number, percent
from maildesk.reports.model import Count, Durations, Report

WIDTH = 80
BAR = 24


def render_text(report: Report) -> str:
    parts = [_title(report), _volume(report), _times(report), _sla(report),
             _backlog(report), _agents(report), _time_spent(report), _satisfaction(report),
             _recurring(report)]
    return "\n\n".join(parts).rstrip() + "\n"


def heading(text: str) -> str:
    return f"{text}\n{'=' * len(text)}"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]],
          right: Sequence[int] = ()) -> str:
    """Aligned columns; the first column is cut so that the table fits WIDTH."""
    cells = [[str(v) for v in row] for row in rows]
    if not cells:
        return "  (none)"
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    spare = WIDTH - 2 - sum(widths) - 2 * (len(widths) - 1)
    if spare < 0:
        widths[0] = max(8, widths[0] + spare)
    lines = [_row(headers, widths, right), _row(["-" * w for w in widths], widths, right)]
    lines += [_row(r, widths, right) for r in cells]
    return "\n".join(lines)


def _row(values: Sequence[str], widths: Sequence[int], right: Sequence[int]) -> str:
    out = []
    for i, (value, width) in enumerate(zip(values, widths, strict=True)):
        value = value if len(value) <= width else value[: width - 1] + "…"
        out.append(value.rjust(width) if i in right else value.ljust(width))
    return ("  " + "  ".join(out)).rstrip()


def bars(counts: Sequence[Count], label: str) -> str:
    top = max((c.count for c in counts), default=0) or 1
    rows = [(c.key, c.count, "#" * round(BAR * c.count / top)) for c in counts]
    return table([label, "tickets", ""], rows, right=(1,))


def _title(report: Report) -> str:
    p = report.period
    scope = (f", queue {p.queue}" if p.queue else "") + (f", brand {p.brand}" if p.brand else "")
    return (f"maildesk report: {p.first_day} to {p.last_day} ({p.timezone}{scope})\n"
            f"Tickets created in the period, spam excluded; times are business time.")


def _volume(report: Report) -> str:
    v = report.volume
    parts = [heading(f"Volume: {v.total} tickets"), bars(v.by_day, "day")]
    for label, counts in (("type", v.by_type), ("queue", v.by_queue),
                          ("priority", v.by_priority), ("channel", v.by_channel)):
        parts.append(bars(counts, label))
    return "\n\n".join(parts)


def _durations_row(name: str, d: Durations) -> list[object]:
    return [name, d.count, duration(d.median), duration(d.p90)]


def _times(report: Report) -> str:
    r = report.reopens
    rows = [_durations_row("first response", report.first_response),
            _durations_row("resolution", report.resolution)]
    return (heading("Response and resolution times") + "\n" +
            table(["", "tickets", "median", "p90"], rows, right=(1, 2, 3)) +
            f"\n\n  Reopened: {r.reopened} of {r.resolved} resolved ({percent(r.rate)})")


def _sla(report: Report) -> str:
    s = report.sla
    rows = [["all", s.response.with_due, s.response.breached, percent(s.response.compliance),
             s.resolution.with_due, s.resolution.breached, percent(s.resolution.compliance)]]
    rows += [[p.priority, p.response.with_due, p.response.breached,
              percent(p.response.compliance), p.resolution.with_due, p.resolution.breached,
              percent(p.resolution.compliance)] for p in s.by_priority]
    breaches = [[b.ref, b.kind, b.priority, b.at.strftime("%Y-%m-%d %H:%M"), b.subject]
                for b in s.recent_breaches]
    return (heading("SLA") + "\n" +
            table(["priority", "resp due", "breached", "met", "resol due", "breached", "met"],
                  rows, right=(1, 2, 3, 4, 5, 6)) +
            "\n\n  Recent breaches\n" +
            table(["ticket", "kind", "prio", "at (UTC)", "subject"], breaches))


def _backlog(report: Report) -> str:
    b = report.backlog
    rows = [[r.status, *r.counts, r.total] for r in b.rows]
    rows.append(["total", *(sum(r.counts[i] for r in b.rows) for i in range(len(b.buckets))),
                 b.total])
    return (heading(f"Backlog now: {b.total} open") + "\n" +
            table(["status", *b.buckets, "total"], rows, right=range(1, len(b.buckets) + 2)))


def _people(title: str, rows: Sequence) -> str:  # type: ignore[type-arg]
    data = [[p.name, p.handled, p.resolved, duration(p.median_first_response),
             number(p.satisfaction), p.rated] for p in rows]
    return table([title, "handled", "resolved", "median FR", "CSAT", "rated"], data,
                 right=(1, 2, 3, 4, 5))


def _agents(report: Report) -> str:
    a = report.agents
    return (heading("Agents and teams") + "\n" + _people("agent", a.agents) + "\n\n" +
            _people("team", a.teams))


def _time_spent(report: Report) -> str:
    t = report.time_spent
    parts = [heading(f"Time spent: {minutes(t.total_minutes)} in {t.entries} entries")]
    for label, counts in (("queue", t.by_queue), ("agent", t.by_agent), ("type", t.by_type)):
        parts.append(table([label, "time", "entries"],
                           [(c.key, minutes(c.minutes), c.entries) for c in counts],
                           right=(1, 2)))
    return "\n".join(parts[:1]) + "\n" + "\n\n".join(parts[1:])


def _satisfaction(report: Report) -> str:
    s = report.satisfaction
    dist = [Count(f"{i} {'*' * i}", n) for i, n in enumerate(s.distribution, start=1)]
    low = [[c.ref, c.score, c.assignee or "-", c.comment or "-"] for c in s.low_scores]
    return (heading("Satisfaction") +
            f"\n  Average {number(s.average)} from {s.rated} answers; response rate "
            f"{percent(s.response_rate)} of {s.resolved} resolved\n\n" +
            bars(dist, "score") + "\n\n  Low scores (2 or less)\n" +
            table(["ticket", "score", "agent", "comment"], low, right=(1,)))


def _recurring(report: Report) -> str:
    r = report.recurring
    return (heading("Recurring problems") + "\n" +
            table(["subject (2+ tickets)", "tickets"], [(c.key, c.count) for c in r.subjects],
                  right=(1,)) + "\n\n" +
            table(["term", "tickets"], [(c.key, c.count) for c in r.terms], right=(1,)) +
            "\n\n" + table(["tag", "tickets"], [(c.key, c.count) for c in r.tags], right=(1,)) +
            "\n\n" + table(["customer", "tickets"], [(c.key, c.count) for c in r.customers],
                           right=(1,)))
