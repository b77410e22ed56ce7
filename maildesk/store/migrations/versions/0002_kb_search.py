"""knowledge-base full-text search

SQLite: an FTS5 table over kb_articles (external content), kept in sync by triggers.
The tokenizer is `porter unicode61 remove_diacritics 2`: accents never matter and
English inflections fold; Spanish plurals are folded by query expansion in maildesk.kb,
so the triggers stay plain SQL and any client may write kb_articles.

PostgreSQL: a stored generated tsvector combining the `spanish` and `english`
configurations over accent-folded text, with a GIN index. Accents are folded by
`md_fold(text)`, an IMMUTABLE wrapper around `unaccent`. The extension is created in
`public`, not in whatever schema heads the search_path, and the wrapper names it with
its schema: maildesk's own schema can then be dropped or renamed without taking the
extension (and every other schema's md_fold) with it. When the server refuses
`CREATE EXTENSION unaccent`, the wrapper falls back to `translate()` over the Latin-1
accented letters.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE kb_fts USING fts5(
        title, tags, problem, solution,
        content='kb_articles', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_articles BEGIN
        INSERT INTO kb_fts(rowid, title, tags, problem, solution)
        VALUES (new.id, new.title, new.tags, new.problem, new.solution);
    END""",
    """CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_articles BEGIN
        INSERT INTO kb_fts(kb_fts, rowid, title, tags, problem, solution)
        VALUES ('delete', old.id, old.title, old.tags, old.problem, old.solution);
    END""",
    """CREATE TRIGGER kb_fts_au AFTER UPDATE ON kb_articles BEGIN
        INSERT INTO kb_fts(kb_fts, rowid, title, tags, problem, solution)
        VALUES ('delete', old.id, old.title, old.tags, old.problem, old.solution);
        INSERT INTO kb_fts(rowid, title, tags, problem, solution)
        VALUES (new.id, new.title, new.tags, new.problem, new.solution);
    END""",
    "INSERT INTO kb_fts(kb_fts) VALUES ('rebuild')",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS kb_fts_au",
    "DROP TRIGGER IF EXISTS kb_fts_ad",
    "DROP TRIGGER IF EXISTS kb_fts_ai",
    "DROP TABLE IF EXISTS kb_fts",
]

FOLD_UNACCENT = """CREATE OR REPLACE FUNCTION md_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower({schema}.unaccent('{schema}.unaccent'::regdictionary,
                                         coalesce($1, ''))) $$"""

FOLD_TRANSLATE = """CREATE OR REPLACE FUNCTION md_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT translate(lower(coalesce($1, '')),
                           'áàâäãåéèêëíìîïóòôöõúùûüñçý', 'aaaaaaeeeeiiiiooooouuuuncy') $$"""


def _weighted(column: str, weight: str) -> str:
    text = f"md_fold({column})"
    return (f"setweight(to_tsvector('spanish'::regconfig, {text}), '{weight}') || "
            f"setweight(to_tsvector('english'::regconfig, {text}), '{weight}')")


TSV = " || ".join([_weighted("title", "A"), _weighted("tags::text", "B"),
                   _weighted("problem", "C"), _weighted("solution", "C")])


def _create_unaccent() -> None:
    """CREATE EXTENSION unaccent in `public` (else the default schema) if the server lets us."""
    bind = op.get_bind()
    for statement in ("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public",
                      "CREATE EXTENSION IF NOT EXISTS unaccent"):
        try:
            with bind.begin_nested():
                bind.exec_driver_sql(statement)
            return
        except DBAPIError:
            continue  # no `public`, no privilege or no contrib package


def _unaccent_schema() -> str | None:
    """The schema holding unaccent (None without it: fold with translate() instead)."""
    _create_unaccent()
    bind = op.get_bind()
    row = bind.exec_driver_sql("SELECT quote_ident(n.nspname) FROM pg_extension e "
                               "JOIN pg_namespace n ON n.oid = e.extnamespace "
                               "WHERE e.extname = 'unaccent'").first()
    return row[0] if row else None


def _postgres_up() -> None:
    schema = _unaccent_schema()
    op.execute(FOLD_UNACCENT.format(schema=schema) if schema else FOLD_TRANSLATE)
    op.execute(f"ALTER TABLE kb_articles ADD COLUMN search_tsv tsvector "
               f"GENERATED ALWAYS AS ({TSV}) STORED")
    op.execute("CREATE INDEX ix_kb_articles_search_tsv ON kb_articles USING gin (search_tsv)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    else:
        _postgres_up()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_kb_articles_search_tsv")
        op.execute("ALTER TABLE kb_articles DROP COLUMN IF EXISTS search_tsv")
        op.execute("DROP FUNCTION IF EXISTS md_fold(text)")
