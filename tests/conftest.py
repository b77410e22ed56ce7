"""Shared fixtures: eml() loader, a database over SQLite and PostgreSQL, a desk, an SMTP sink.

The PostgreSQL server is the real one on 127.0.0.1:5432. Each test worker of each run
creates its own database there (through the `test` database), migrates it once and
drops it at the end, so two runs of the suite at once never share a schema, an
extension or a row; every test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from maildesk.config.model import Config, load_config
from maildesk.runtime.desk import Desk, open_desk
from maildesk.store.db import make_engine
from maildesk.store.migrate import upgrade
from maildesk.store.models import Base

MAIL_DIR = Path(__file__).parent / "mail"
REPO = Path(__file__).parent.parent
PG_BASE = os.environ.get("MAILDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def eml(name: str) -> bytes:
    """The bytes of tests/mail/<name>."""
    return (MAIL_DIR / name).read_bytes()


@pytest.fixture(name="eml")
def eml_fixture():  # noqa: ANN201 - returns the loader function
    return eml


@contextmanager
def fresh_pg_database(tag: str = "") -> Iterator[str]:
    """An empty PostgreSQL database named for this run and worker, dropped afterwards."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"md_test_{worker}_{tag}{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_BASE).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test worker alone, dropped at the end."""
    with fresh_pg_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


def _truncate(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: every test using it runs on both engines."""
    if request.param == "sqlite":
        path = tmp_path / "maildesk.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _truncate(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


DESK_TOML = """\
[desk]
name = "Acme Support"
addresses = ["support@acme.example", "soporte@acme.example"]
ticket_prefix = "MD"
language = "en"
timezone = "Europe/Madrid"
secret_file = "secret"

[database]
url = "{url}"

[storage]
dir = "var"
{extra}
"""


def write_desk(root: Path, url: str, extra: str = "", *, rules: bool = True,
               templates: bool = True) -> Path:
    """A desk directory: maildesk.toml, secret, and the shipped rules and templates."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "maildesk.toml").write_text(DESK_TOML.format(url=url, extra=extra))
    (root / "secret").write_text("0" * 64 + "\n")
    for name, wanted in (("rules", rules), ("templates", templates)):
        source = REPO / name
        if wanted and source.is_dir():
            shutil.copytree(source, root / name, dirs_exist_ok=True)
    return root / "maildesk.toml"


@pytest.fixture
def desk_config(tmp_path: Path, db_url: str) -> Config:
    return load_config(write_desk(tmp_path / "desk", db_url))


@pytest.fixture
def desk(desk_config: Config) -> Iterator[Desk]:
    """A working desk on the parametrised database, with the shipped rules and templates."""
    desk = open_desk(desk_config)
    yield desk
    desk.close()


class SinkRecorder:
    """aiosmtpd handler keeping what it accepted; `replies` scripts answers to DATA."""

    def __init__(self, replies: list[str] | None = None) -> None:
        self.replies: list[str] = list(replies or [])  # e.g. ["550 5.1.1 no user"]; then 250
        self.received: list = []  # aiosmtpd Envelopes

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        if self.replies:
            reply = self.replies.pop(0)
            if not reply.startswith("250"):
                return reply
        self.received.append(envelope)
        return "250 2.0.0 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, SinkRecorder]]:
    """A real SMTP server on a free loopback port recording what maildesk sends."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    recorder = SinkRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, recorder
    controller.stop()
