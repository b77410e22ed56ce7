"""Full-text search over tickets: the subject and text of every mail on them.

The same machinery as the knowledge base (kb/articles.py, migration 0002): SQLite FTS5
with `porter unicode61 remove_diacritics 2` over `message_fts`, PostgreSQL a tsvector of
the `spanish` and `english` configurations over accent-folded text (`messages.search_tsv`,
migration answer_faster). Accents and case never matter; English inflections fold by
stemming, Spanish plurals by the KB's query expansion on SQLite and the Spanish stemmer on
PostgreSQL. Every word of the query must occur in one mail of the ticket. The desk's own
automatic mail (acknowledgements, reminders) is not searched: it only repeats the ticket.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from maildesk.kb.articles import query_words, spanish_forms
from maildesk.mail.addresses import normalise_address
from maildesk.text import fold

EXCERPT = 160


@dataclass(frozen=True, slots=True)
class TicketHit:
    ref: str
    status: str
    customer: str
    subject: str
    excerpt: str  # from the best-matching mail
    score: float  # engine-specific; higher is better


@dataclass(frozen=True, slots=True)
class Filters:
    statuses: tuple[str, ...] = ()
    customer: str | None = None  # an e-mail address, or part of one / of the name
    limit: int = 50


def fts5_all(words: Sequence[str]) -> str:
    """An FTS5 expression: every word, each in any of its Spanish plural forms."""
    groups = []
    for word in words:
        forms = sorted(spanish_forms(word))
        groups.append("(" + " OR ".join(f'"{f}"' for f in forms) + ")")
    return " AND ".join(groups)


def search(session: Session, query: str, filters: Filters = Filters()) -> list[TicketHit]:
    """Tickets with a mail containing every word of `query`, best first."""
    words = query_words(query)
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        match, rank, params = _postgres(words)
    else:
        match, rank, params = _sqlite(words)
    where, more = _filters(filters)
    sql = text(
        f"SELECT t.ref, t.status, c.email, t.subject, m.text, {rank} AS score "
        f"{match} JOIN tickets t ON t.id = m.ticket_id "
        f"JOIN contacts c ON c.id = t.customer_id WHERE m.kind <> 'system'{where} "
        f"ORDER BY score DESC, t.number DESC")
    best: dict[str, TicketHit] = {}
    for row in session.execute(sql, {**params, **more}):
        if row.ref not in best:
            best[row.ref] = TicketHit(row.ref, row.status, row.email, row.subject,
                                      _excerpt(row.text, words), round(float(row.score), 6))
        if len(best) >= filters.limit:
            break
    return list(best.values())


def _sqlite(words: Sequence[str]) -> tuple[str, str, dict[str, Any]]:
    # bm25 is lower-is-better; the subject weighs more than the text.
    return ("FROM message_fts JOIN messages m ON m.id = message_fts.rowid "
            "AND message_fts MATCH :match", "-bm25(message_fts, 4.0, 1.0)",
            {"match": fts5_all(words)})


def _postgres(words: Sequence[str]) -> tuple[str, str, dict[str, Any]]:
    each = [f"(plainto_tsquery('spanish'::regconfig, :w{i}) || "
            f"plainto_tsquery('english'::regconfig, :w{i}))" for i in range(len(words))]
    return (f"FROM messages m JOIN (SELECT {' && '.join(each)} AS tsq) q "
            f"ON m.search_tsv @@ q.tsq", "ts_rank(m.search_tsv, q.tsq)",
            {f"w{i}": word for i, word in enumerate(words)})


def _filters(filters: Filters) -> tuple[str, dict[str, Any]]:
    where, params = "", {}
    if filters.statuses:
        names = [f":s{i}" for i in range(len(filters.statuses))]
        where += f" AND t.status IN ({', '.join(names)})"
        params.update({f"s{i}": s for i, s in enumerate(filters.statuses)})
    if filters.customer:
        wanted = filters.customer.strip()
        if "@" in wanted:
            where += " AND c.email = :customer"
            params["customer"] = normalise_address(wanted)
        else:
            where += " AND (lower(c.email) LIKE :customer OR lower(c.name) LIKE :customer)"
            params["customer"] = f"%{wanted.lower()}%"
    return where, params


def _excerpt(value: str, words: Sequence[str]) -> str:
    """The text around the first query word found (folded comparison), on one line."""
    flat = re.sub(r"\s+", " ", value or "").strip()
    folded = fold(flat)
    positions = [folded.find(w) for w in words if folded.find(w) >= 0]
    start = max(0, min(positions) - 40) if positions else 0
    piece = flat[start:start + EXCERPT]
    return ("…" if start else "") + piece + ("…" if start + EXCERPT < len(flat) else "")
