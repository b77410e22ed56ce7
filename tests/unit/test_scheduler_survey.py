"""Reading a satisfaction score from the first line of a reply (satisfaction.parse_score)."""

from __future__ import annotations

import pytest

from maildesk.tickets.satisfaction import parse_score


@pytest.mark.parametrize(("text", "expected"), [
    ("5", (5, "")),
    ("5/5", (5, "")),
    ("4 / 5\n", (4, "")),
    ("5 - great", (5, "great")),
    ("3: slow but fine\nThanks", (3, "slow but fine\nThanks")),
    ("Puntuación: 4", (4, "")),
    ("Score: 2/5 — took too long", (2, "took too long")),
    ("\n\n1.\nNobody answered.\n\nOn Tue, Acme wrote:\n> closed", (1, "Nobody answered.")),
    ("> quoted 2\n5!\n-- \nMaría", (5, "")),
    ("2\nEl mar, 25 nov 2025, Soporte escribió:\n> cerrada", (2, "")),
])
def test_scores(text: str, expected: tuple[int, str]) -> None:
    assert parse_score(text) == expected


@pytest.mark.parametrize("text", [
    "", "Hello,\n5", "10", "0", "6/5", "3 printers are still broken", "5 stars",
    "Call me at 5", "> 5",
])
def test_not_scores(text: str) -> None:
    assert parse_score(text) is None
