"""One accent and case fold: rules, knowledge base, #commands and the threader agree."""

from __future__ import annotations

import pytest

from maildesk.agents.commands import TYPE_ALIASES, CommandName, parse_commands
from maildesk.kb.articles import query_words
from maildesk.rules import fold as rules_fold
from maildesk.text import fold
from maildesk.tickets.threader import normalize_subject
from maildesk.types import TicketType


@pytest.mark.parametrize("written, folded", [
    ("CAÍDO Ñandú ÉTÉ", "caido nandu ete"), ("plain", "plain"), ("Straße", "strasse"),
    ("ﬁcheros", "ficheros"), ("Petición", "peticion"), ("Ｆｕｌｌ", "full"),
])
def test_fold(written: str, folded: str) -> None:
    assert fold(written) == folded
    assert rules_fold is fold


@pytest.mark.parametrize("a, b", [
    ("Impresora caída", "IMPRESORA CAIDA"), ("Re: Petición de acceso", "peticion de ACCESO"),
    ("Straße gesperrt", "strasse gesperrt"),
])
def test_subjects_compare_with_the_same_fold_as_rules(a: str, b: str) -> None:
    """The threader once kept accents (NFKC + casefold) where rules and search dropped
    them, so the weak subject match told "caída" from "caida"."""
    assert normalize_subject(a) == normalize_subject(b) == fold(normalize_subject(b))


def test_search_and_commands_fold_like_rules() -> None:
    assert query_words("Conexión CAÍDA") == [fold("conexión"), fold("caída")]
    block = parse_commands("#TIPO Petición\n#Reabrir\n\nHecho.")
    assert [c.name for c in block.commands] == [CommandName.TYPE, CommandName.REOPEN]
    assert TYPE_ALIASES[fold("Petición")] == TicketType.REQUEST
