"""The one language guesser: 'es', 'en', or None when the text is too short to tell."""

from __future__ import annotations

import pytest

from maildesk.kb import articles
from maildesk.mail.language import guess_language


@pytest.mark.parametrize("text, language", [
    ("The VPN is down", None),  # two function words: not enough to tell
    ("VPN", None), ("", None),
    ("Hello, the printer on the second floor is not working. Can you help me? Thanks",
     "en"),
    ("Hola, la impresora de la segunda planta no funciona. ¿Me pueden ayudar? Gracias",
     "es"),
    ("Hola team, the printer is broken and la impresora no va", None),  # mixed evenly
])
def test_guess_language(text: str, language: str | None) -> None:
    assert guess_language(text) == language


def test_the_knowledge_base_has_no_guesser_of_its_own() -> None:
    assert not hasattr(articles, "guess_language") or articles.guess_language is guess_language
