"""Reply stripping on hand-written mail from many clients and languages (tests/mail/replies).

Each NAME.eml has a NAME.expected.txt: the author's new words the desk must keep. Lines are
compared without surrounding blanks, since an HTML rendering spaces paragraphs its own way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maildesk.mail.parse import parse
from maildesk.mail.quotes import author_text, strip_reply

REPLIES = Path(__file__).resolve().parent.parent / "mail" / "replies"
FIXTURES = sorted(p.stem for p in REPLIES.glob("*.eml"))


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def expected(name: str) -> str:
    return (REPLIES / f"{name}.expected.txt").read_text(encoding="utf-8")


def test_there_are_enough_fixtures() -> None:
    assert len(FIXTURES) >= 60


@pytest.mark.parametrize("name", FIXTURES)
def test_author_text(name: str) -> None:
    mail = parse((REPLIES / f"{name}.eml").read_bytes())
    assert lines(author_text(mail)) == lines(expected(name))


@pytest.mark.parametrize("name", [n for n in FIXTURES if "html" in n])
def test_text_part_alone_loses_nothing(name: str) -> None:
    """The plain-text part of an HTML mail gives the same words, or at worst leaks more."""
    mail = parse((REPLIES / f"{name}.eml").read_bytes())
    kept = " ".join(lines(strip_reply(mail.text)))
    assert all(word in kept for word in " ".join(lines(expected(name))).split())
