"""Which of the desk's languages a customer wrote in: a stop-word vote, deterministic.

Only Spanish and English are shipped; telling these two apart on a few sentences is
reliable with function words, and needs no model or external library.
"""

from __future__ import annotations

import re

_WORDS = re.compile(r"[a-záéíóúüñ]+")
_STOP = {
    "es": frozenset("el la los las de del que y en un una por para con no es está están "
                    "se su sus al lo como pero mi me gracias hola buenos buenas días tengo "
                    "puede pueden ayuda favor saludos usted nos muy también".split()),
    "en": frozenset("the a an and of to in is are was it for on with not this that i you "
                    "my me please thanks thank hello hi can could have has be we our "
                    "regards help from".split()),
}


def guess_language(text: str, minimum: int = 3) -> str | None:
    """'es' or 'en' when the text clearly leans one way, else None.

    The one guesser of the desk. It never guesses on too little text: a caller that
    needs a language falls back to its own default (the contact's, then the desk's).
    """
    words = _WORDS.findall(text[:4000].lower())
    votes = {lang: sum(w in stop for w in words) for lang, stop in _STOP.items()}
    best = max(votes, key=lambda lang: votes[lang])
    other = min(votes.values())
    return best if votes[best] >= minimum and votes[best] > other * 1.5 else None
