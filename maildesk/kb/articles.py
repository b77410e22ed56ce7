"""Knowledge base: turn a documented solution into an article, and find articles again.

An answer an agent marks as the solution (`#kb`, or the last agent answer when a ticket
closes and `[kb] draft_on_close` is set) becomes a *draft*; an agent publishes it with
`maildesk kb publish`. Only published articles are suggested to customers.

Search uses the database's own engine (migration 0002): SQLite FTS5 with the
`porter unicode61 remove_diacritics 2` tokenizer, PostgreSQL tsvectors built with both
the `spanish` and `english` configurations over accent-folded text. Accents never matter.
Plurals: Porter folds English ones; Spanish ones on SQLite are folded by expanding each
query word into its singular/plural family (see `spanish_forms`), which matches whatever
form the article used while keeping the index triggers plain SQL; on PostgreSQL the
Spanish Snowball stemmer folds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from maildesk.config.model import KbConfig
from maildesk.mail.language import guess_language
from maildesk.mail.quotes import strip_reply
from maildesk.store.models import Article, Message, Ticket
from maildesk.text import fold
from maildesk.tickets.threader import strip_prefixes
from maildesk.types import AuthorKind, Direction

DRAFT, PUBLISHED = "draft", "published"
STATES = (DRAFT, PUBLISHED)
MAX_QUERY_TERMS = 24
EXCERPT = 200

_WORD = re.compile(r"[^\W_]+")
_TAG = re.compile(r"^\s*(?:\[[^\]]{1,40}\]\s*)+")
_KB_COMMAND = re.compile(r"(?im)^\s*#kb\b.*$")

STOPWORDS = frozenset("""
a about after all also am an and any are as at be because been but by can could de del did
do does for from had has have how i if in into is it its me my no not of on or our please
so that the their them then there these they this to was we were what when where which who
why will with would you your hi hello thanks thank regards
al algo como con cual cuando de del desde donde el ella en entre es esta este esto estos
ha han hay la las le les lo los me mi mis muy nada ni no nos o para pero por que se sin
sobre su sus te tengo tiene todo tu un una unos y ya yo hola gracias saludos buenos dias
""".split())


@dataclass(frozen=True, slots=True)
class ArticleHit:
    """One search result; score is engine-specific, higher is better."""

    id: int
    title: str
    language: str
    state: str
    score: float
    excerpt: str


# -- text folding ------------------------------------------------------------------------

def spanish_forms(word: str) -> set[str]:
    """The light Spanish plural family of a folded word: singular and plural forms.

    Handles -s after a vowel (impresora/impresoras), -es after a consonant
    (conexion/conexiones, red/redes, error/errores) and z/ces (luz/luces). It does not
    touch gender, verb forms or irregular plurals. Over-generated forms are harmless:
    they are only ever OR-ed into a query.
    """
    forms = {word}
    if len(word) >= 4 and word.endswith("ces"):
        forms.add(word[:-3] + "z")
    if len(word) >= 4 and word.endswith("es") and word[-3] not in "aeiou":
        forms.add(word[:-2])
    if len(word) >= 4 and word.endswith("s") and word[-2] in "aeiou":
        forms.add(word[:-1])
    for singular in list(forms):
        if singular.endswith("z"):
            forms.add(singular[:-1] + "ces")
        elif singular[-1] in "aeiou":
            forms.add(singular + "s")
        else:
            forms.add(singular + "es")
    return forms


def query_words(value: str, limit: int = MAX_QUERY_TERMS) -> list[str]:
    """Distinct folded content words of a query or a customer's mail, in order."""
    words = [w for w in _WORD.findall(fold(value)) if w not in STOPWORDS and len(w) > 1]
    return list(dict.fromkeys(words))[:limit]


def fts5_query(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression: any form of any word (ranked by bm25 afterwards)."""
    forms = sorted({f for w in words for f in spanish_forms(w)})
    return " OR ".join(f'"{f}"' for f in forms)


# -- drafting ----------------------------------------------------------------------------

def clean_title(subject: str) -> str:
    """The subject without reply prefixes and leading [tags] such as [MD-1042]."""
    title = subject or ""
    for _ in range(3):  # "Re: [MD-7] RE: [EXT] ..." peels in a few rounds
        title, _ = strip_prefixes(title)
        title = _TAG.sub("", title)
    return re.sub(r"\s+", " ", title).strip() or "(no subject)"


def clean_body(body: str) -> str:
    """The new text of a mail: no #kb command, and no quoted history or signature, which
    the desk's one quote stripper (mail.quotes.strip_reply) removes."""
    text = strip_reply(_KB_COMMAND.sub("", body or ""))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.splitlines()))


def first_customer_message(session: Session, ticket: Ticket) -> Message | None:
    return session.execute(
        select(Message).where(Message.ticket_id == ticket.id, Message.direction == Direction.IN,
                              Message.kind == AuthorKind.CUSTOMER)
        .order_by(Message.created_at, Message.id).limit(1)).scalar_one_or_none()


def draft_from_ticket(session: Session, ticket: Ticket, message: Message,
                      now: datetime, default_language: str) -> Article:
    """Draft (or refresh the draft of) the article documenting `message` as the solution.

    One draft per ticket: marking a better answer later rewrites that draft instead of
    leaving two. A published article is never changed behind the editor's back; a new
    draft is made instead. The article's language is the ticket's, else the one its text
    leans to, else `default_language` (the desk's).
    """
    first = first_customer_message(session, ticket)
    problem = clean_body(first.text) if first is not None else ""
    solution = clean_body(message.text)
    values = dict(title=clean_title(ticket.subject), problem=problem, solution=solution,
                  tags=sorted(ticket.tags or []),
                  language=(ticket.language or guess_language(problem + "\n" + solution)
                            or default_language),
                  updated_at=now)
    article = session.execute(
        select(Article).where(Article.source_ticket_id == ticket.id, Article.state == DRAFT)
        .order_by(Article.id.desc()).limit(1)).scalar_one_or_none()
    if article is None:
        article = Article(state=DRAFT, source_ticket_id=ticket.id, created_at=now, **values)
        session.add(article)
    else:
        for key, value in values.items():
            setattr(article, key, value)
    session.flush()
    return article


def last_agent_answer(session: Session, ticket: Ticket) -> Message | None:
    return session.execute(
        select(Message).where(Message.ticket_id == ticket.id, Message.direction == Direction.OUT,
                              Message.kind == AuthorKind.AGENT)
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(1)).scalar_one_or_none()


def draft_on_close(session: Session, config: KbConfig, ticket: Ticket,
                   now: datetime, default_language: str) -> Article | None:
    """On closure, when configured: draft from the last agent answer, unless one exists."""
    if not config.draft_on_close:
        return None
    exists = session.execute(select(Article.id).where(Article.source_ticket_id == ticket.id)
                             .limit(1)).scalar_one_or_none()
    answer = last_agent_answer(session, ticket)
    if exists is not None or answer is None:
        return None
    return draft_from_ticket(session, ticket, answer, now, default_language)


# -- managing ----------------------------------------------------------------------------

def publish(session: Session, article: Article, now: datetime) -> None:
    article.state = PUBLISHED
    article.updated_at = now


def edit(session: Session, article: Article, now: datetime, *, title: str | None = None,
         problem: str | None = None, solution: str | None = None,
         tags: Iterable[str] | None = None) -> None:
    """Change the given fields; the search index follows through the database triggers."""
    if title is not None:
        article.title = title.strip()
    if problem is not None:
        article.problem = problem.strip()
    if solution is not None:
        article.solution = solution.strip()
    if tags is not None:
        article.tags = sorted({t.strip() for t in tags if t.strip()})
    article.updated_at = now
    session.flush()


def list_articles(session: Session, state: str | None = None) -> list[Article]:
    query = select(Article).order_by(Article.id)
    if state:
        query = query.where(Article.state == state)
    return list(session.execute(query).scalars())


# -- searching ---------------------------------------------------------------------------

def search(session: Session, query: str, language: str | None = None, limit: int = 3,
           published_only: bool = True) -> list[ArticleHit]:
    """Articles matching any word of `query` (in any inflection), best first."""
    words = query_words(query)
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = _search_postgres(session, words, language, limit, published_only)
    else:
        rows = _search_sqlite(session, words, language, limit, published_only)
    return [ArticleHit(id=r.id, title=r.title, language=r.language, state=r.state,
                       score=round(float(r.score), 6), excerpt=_excerpt(r.solution))
            for r in rows]


def _filters(language: str | None, published_only: bool) -> str:
    where = " AND a.state = 'published'" if published_only else ""
    return where + (" AND a.language = :language" if language else "")


def _search_sqlite(session: Session, words: Sequence[str], language: str | None, limit: int,
                   published_only: bool) -> Sequence:  # type: ignore[type-arg]
    # Weights per FTS column (title, tags, problem, solution); bm25 is lower-is-better.
    sql = text("SELECT a.id, a.title, a.language, a.state, a.solution, "
               "-bm25(kb_fts, 10.0, 5.0, 2.0, 1.0) AS score "
               "FROM kb_fts JOIN kb_articles a ON a.id = kb_fts.rowid "
               "WHERE kb_fts MATCH :match" + _filters(language, published_only) +
               " ORDER BY score DESC, a.id LIMIT :limit")
    params = {"match": fts5_query(words), "limit": limit}
    if language:
        params["language"] = language
    return session.execute(sql, params).all()


def _tsquery(words: Sequence[str]) -> str:
    """OR of every word under both configurations: Spanish and English stems alike."""
    return " || ".join(f"plainto_tsquery('{config}'::regconfig, :w{i})"
                       for i in range(len(words)) for config in ("spanish", "english"))


def _search_postgres(session: Session, words: Sequence[str], language: str | None,
                     limit: int, published_only: bool) -> Sequence:  # type: ignore[type-arg]
    sql = text(f"SELECT a.id, a.title, a.language, a.state, a.solution, "
               f"ts_rank(a.search_tsv, q.tsq) AS score "
               f"FROM kb_articles a, (SELECT {_tsquery(words)} AS tsq) q "
               f"WHERE a.search_tsv @@ q.tsq" + _filters(language, published_only) +
               " ORDER BY score DESC, a.id LIMIT :limit")
    params: dict[str, object] = {f"w{i}": word for i, word in enumerate(words)}
    params["limit"] = limit
    if language:
        params["language"] = language
    return session.execute(sql, params).all()


def _excerpt(value: str) -> str:
    flat = re.sub(r"\s+", " ", value or "").strip()
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def suggest_enabled(config: KbConfig, queue: str | None) -> bool:
    """Suggestions go only into acknowledgements of the queues listed in [kb]."""
    return bool(queue) and queue in config.suggest_queues


def suggest_for(session: Session, text_: str, limit: int = 3) -> list[ArticleHit]:
    """Published articles worth offering a customer who wrote `text_`."""
    return search(session, text_, limit=limit, published_only=True)


# -- "this solved it" --------------------------------------------------------------------

_SOLVED = re.compile(r"""^(?:(?:yes|yep|great|perfect|si|perfecto|genial)\W+)?(?:
      (?:this|that|it|your\ (?:answer|reply|fix|suggestion))\ (?:has\ |have\ )?
          (?:solved|fixed|resolved)(?:\ (?:it|the\ (?:problem|issue)|my\ (?:problem|issue)))?
    | (?:problem\ |issue\ )?(?:solved|resolved|fixed)
    | (?:it\ )?works\ now | (?:it\ is|its)\ (?:working|solved|fixed|resolved)(?:\ now)?
    | (?:esto|eso|ya|usted|su\ respuesta)?\ ?(?:me\ |lo\ )?(?:ha|han)\ (?:resuelto|solucionado|arreglado)
        (?:\ el\ problema)?
    | (?:problema\ )?(?:resuelto|solucionado|arreglado)
    | (?:ahora\ )?ya\ funciona(?:\ bien|\ correctamente|\ perfectamente|\ todo)?
    | ahora\ funciona(?:\ bien|\ correctamente|\ perfectamente)?
    | ya\ esta\ (?:resuelto|solucionado|arreglado|funcionando)
    )(?:$|\W+(?:thanks?|thank\ you|gracias|muchas\ gracias|cheers)\b.*$|[\W]*$)""",
                     re.VERBOSE)
_GREETING = re.compile(r"^(?:hi|hello|hey|dear|hola|buenas|buenos dias|buenas tardes|"
                       r"estimad[oa]s?)\b[^.!?]{0,40}[,!:.]?$")


def _opening(value: str) -> str:
    """The first sentence a customer wrote, skipping a greeting line and quoted text."""
    for line in (value or "").splitlines():
        line = re.sub(r"\s+", " ", fold(line)).strip()
        if not line or line.startswith(">"):
            continue
        if _GREETING.match(line):
            continue
        first = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
        # Spanish opens exclamations with an inverted mark: "¡Resuelto!"
        return first.replace("'", "").replace("\u2019", "").lstrip("¡ ")
    return ""


def solved_reply(value: str) -> bool:
    """True when a customer's reply opens with "this solved it", "resuelto", "ya funciona"...

    Only the opening sentence counts, so "solved?" (a question), "not solved yet" or a
    long message that merely mentions the word later do not close anything.
    """
    opening = _opening(value)
    if not opening or opening.rstrip().endswith("?"):
        return False
    return _SOLVED.match(opening) is not None
