"""PostgreSQL: one desk's schema does not depend on another's (two desks, or two test
runs, sharing a server)."""

from __future__ import annotations

from conftest import fresh_pg_database
from sqlalchemy import text

from maildesk.store.db import make_engine
from maildesk.store.migrate import upgrade


def _in_schema(url: str, schema: str) -> str:
    return f"{url}?options=-csearch_path%3D{schema}"


def _migrate_schema(url: str, schema: str) -> None:
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = make_engine(_in_schema(url, schema))
    upgrade(engine)
    engine.dispose()


def test_dropping_one_schema_leaves_the_other_ones_search_working() -> None:
    with fresh_pg_database("iso") as url:
        _migrate_schema(url, "first")  # the first migration creates the unaccent extension
        _migrate_schema(url, "second")
        admin = make_engine(url)
        with admin.begin() as conn:
            conn.execute(text('DROP SCHEMA "first" CASCADE'))
            schema = conn.execute(text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'")).scalar()
        admin.dispose()
        assert schema == "public"
        engine = make_engine(_in_schema(url, "second"))
        with engine.begin() as conn:
            folded = conn.execute(text("SELECT md_fold('Contraseña CADUCADA Ágil')")).scalar()
            conn.execute(text(
                "INSERT INTO kb_articles (title, tags, problem, solution, language, state, "
                "created_at, updated_at) VALUES ('Contraseña', '[]', 'no entra', 'cambiarla', "
                "'es', 'draft', now(), now())"))
            found = conn.execute(text("SELECT count(*) FROM kb_articles "
                                      "WHERE search_tsv @@ plainto_tsquery('simple', 'contrasena')"
                                      )).scalar()
        engine.dispose()
        assert folded == "contrasena caducada agil"
        assert found == 1
