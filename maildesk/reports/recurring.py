"""Recurring problems: frequent subjects, subject terms, tags and customers, all in SQL.

Subject terms are split inside the database: PostgreSQL with regexp_split_to_table,
SQLite with a recursive CTE over the subject (punctuation first turned into spaces).
Tags are a JSON list: json_array_elements_text on PostgreSQL, json_each on SQLite.
Each term counts once per ticket.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import distinct, func, literal, select
from sqlalchemy.orm import Session

from maildesk.kb.articles import STOPWORDS
from maildesk.reports.model import Count, Recurring
from maildesk.reports.stats import Column, is_postgres
from maildesk.store.models import Contact, Ticket

TOP = 10
MIN_TERM = 4
PUNCTUATION = ",.:;!?()[]\"'/-_#*"
SUBJECT_STOPWORDS = sorted(w for w in STOPWORDS | {"hello", "help", "ayuda", "urgent",
                                                   "urgente", "consulta", "question"}
                           if len(w) >= MIN_TERM)

Where = Sequence[Column]


def recurring(session: Session, where: Where) -> Recurring:
    return Recurring(subjects=subjects(session, where), terms=terms(session, where),
                     tags=tags(session, where), customers=customers(session, where))


def _counts(rows: object) -> tuple[Count, ...]:
    return tuple(Count(str(key), int(n)) for key, n in rows)  # type: ignore[attr-defined]


def subjects(session: Session, where: Where) -> tuple[Count, ...]:
    """Normalised subjects seen on more than one ticket."""
    subject = Ticket.normalized_subject
    return _counts(session.execute(
        select(subject, func.count()).where(*where, subject != "").group_by(subject)
        .having(func.count() > 1).order_by(func.count().desc(), subject).limit(TOP)))


def _words(session: Session, where: Where):  # noqa: ANN202 - a selectable of (id, word)
    if is_postgres(session):
        split = func.regexp_split_to_table(Ticket.normalized_subject, r"[^[:alnum:]]+")
        words = split.table_valued("word").render_derived(name="w")
        return (select(Ticket.id.label("id"), words.c.word.label("word")).select_from(Ticket)
                .join(words, literal(True)).where(*where).subquery())
    text: Column = Ticket.normalized_subject
    for char in PUNCTUATION:
        text = func.replace(text, char, " ")
    seed = select(Ticket.id.label("id"), literal("").label("word"),
                  (text + " ").label("rest")).where(*where).cte("split", recursive=True)
    space = func.instr(seed.c.rest, " ")
    step = select(seed.c.id, func.substr(seed.c.rest, 1, space - 1),
                  func.substr(seed.c.rest, space + 1)).where(seed.c.rest != "")
    return seed.union_all(step)


def terms(session: Session, where: Where) -> tuple[Count, ...]:
    """The most frequent subject words (4+ letters, stop words left out)."""
    words = _words(session, where)
    tickets = func.count(distinct(words.c.id))
    return _counts(session.execute(
        select(words.c.word, tickets)
        .where(func.length(words.c.word) >= MIN_TERM, words.c.word.not_in(SUBJECT_STOPWORDS))
        .group_by(words.c.word).order_by(tickets.desc(), words.c.word).limit(TOP)))


def tags(session: Session, where: Where) -> tuple[Count, ...]:
    if is_postgres(session):
        tag = func.json_array_elements_text(Ticket.tags).table_valued("value").alias("tag")
    else:
        tag = func.json_each(Ticket.tags).table_valued("value").alias("tag")
    return _counts(session.execute(
        select(tag.c.value, func.count()).select_from(Ticket).join(tag, literal(True))
        .where(*where).group_by(tag.c.value)
        .order_by(func.count().desc(), tag.c.value).limit(TOP)))


def customers(session: Session, where: Where) -> tuple[Count, ...]:
    return _counts(session.execute(
        select(Contact.email, func.count()).join(Ticket, Ticket.customer_id == Contact.id)
        .where(*where).group_by(Contact.email)
        .order_by(func.count().desc(), Contact.email).limit(TOP)))
