"""The web form's pure parts: language choice, field checks, the mail a submission becomes;
and the [[brands]] section's validation."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from maildesk.config.model import load_config
from maildesk.errors import ConfigError
from maildesk.mail.parse import parse
from maildesk.types import Attachment
from maildesk.web.form import Submission, build_mail, check, clean, message_id, pick_language
from tests.conftest import write_desk

GOOD = {"name": "Ana", "email": "Ana@Cliente.Example", "subject": "Help",
        "description": "It broke."}


@pytest.mark.parametrize(("query", "header", "default_", "expected"), [
    ("es", "en-GB,en", "en", "es"),
    (None, "fr-FR,es;q=0.8,en;q=0.5", "en", "es"),
    (None, "en-US,en;q=0.9,es;q=0.95", "es", "en"),
    (None, "de-DE", "es", "es"),
    ("xx", None, "en", "en"),
    (None, "es;q=0, en", "es", "en"),
])
def test_pick_language(query: str | None, header: str | None, default_: str,
                       expected: str) -> None:
    assert pick_language(query, header, default_) == expected


def test_check_names_each_bad_field() -> None:
    assert not check(Submission(GOOD))
    bad = check(Submission({**GOOD, "email": "ana@", "subject": "", "name": "x" * 201}))
    assert bad.fields == {"email": "bad_email", "subject": "required", "name": "too_long"}
    files = tuple(Attachment(f"{i}.txt", "text/plain", b"x") for i in range(11))
    assert check(Submission(GOOD, files)).fields == {"attachments": "too_many_files"}


def test_single_line_fields_cannot_inject_headers() -> None:
    assert clean("Help\r\nBcc: victim@example.com") == "Help Bcc: victim@example.com"
    assert clean("line one\r\nline two\x00", multiline=True) == "line one\nline two"


def test_the_mail_a_submission_becomes() -> None:
    submission = Submission({**GOOD, "name": "Ana \"Jefa\" López"},
                            (Attachment("log.txt", "text/plain", b"trace"),))
    data = build_mail(submission, to="support@acme.example", token="t1",
                      now=datetime(2026, 11, 23, 10, tzinfo=UTC), language="es")
    mail = message_from_bytes(data, policy=default)
    assert mail["From"].addresses[0].addr_spec == "ana@cliente.example"
    assert mail["Message-ID"] == message_id("t1", "acme.example")
    assert mail["X-Maildesk-Source"] == "web"
    parsed = parse(data)
    assert parsed.text.strip() == "It broke."
    assert [a.filename for a in parsed.attachments] == ["log.txt"]


def test_brands_are_validated(tmp_path: Path) -> None:
    path = write_desk(tmp_path, "sqlite:///x.db", """
[[brands]]
name = "globex"
addresses = ["help@globex.example"]
ticket_prefix = "gx"

[[brands]]
name = "globex"
addresses = ["HELP@globex.example"]
language = "fr"
templates = "nowhere"
""", rules=False, templates=False)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = str(error.value)
    for expected in ("brands.ticket_prefix", "brands.language", "brands.templates",
                     "duplicate brand 'globex'", "belongs to brands"):
        assert expected in text
    assert "maildesk.toml:23: brands.language" in text.replace(str(path), "maildesk.toml")


def test_check_reports_a_broken_brand_template(tmp_path: Path) -> None:
    from maildesk.runtime.checks import validate_all

    path = write_desk(tmp_path, "sqlite:///x.db", """
[[brands]]
name = "globex"
addresses = ["help@globex.example"]
templates = "globex"
""")
    (tmp_path / "globex" / "en").mkdir(parents=True)
    (tmp_path / "globex" / "en" / "ack.txt.j2").write_text(
        "{% block subject %}Hi {{ subject }{% endblock %}\n")
    problems = validate_all(load_config(path))
    assert [p.path.endswith("globex/en/ack.txt.j2") for p in problems] == [True]
