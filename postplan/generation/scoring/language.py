"""A light language check: which of the planner's languages a text is written in.

No model and no dependency: the share of a text's words that are common function words
("the", "und", "que", "les", "não"…) of each language. Function words are a large share of any
real sentence (30–50 %), so a caption of a dozen words is enough; hashtags, names and numbers
are ignored. A text with too few known words is `None` (unsure), never a guess.
"""

from __future__ import annotations

import re
from functools import lru_cache


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Frequent function words, chosen to overlap little between the five languages.
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and you your for with this that what are our is it of to in on at be was "
        "we us how why when who here there from just it's don't can will get all more "
        "about out up new one best way make it's an a my they their these those have has"
    ),
    "de": _words(
        "der die das und ist nicht ein eine einen mit für auf den dem des zu im ist wir "
        "ihr euch uns unser unsere dein deine ich du sie es wie was wer warum noch schon "
        "auch nur mehr heute bei vom zum zur aus über oder wenn dann hier jetzt so"
    ),
    "es": _words(
        "el la los las que de y en un una por para con es son tu tus su sus nuestro "
        "nuestra nosotros este esta esto lo más pero como qué cómo por qué hoy aquí del al "
        "muy también ya ser hay te se le"
    ),
    "fr": _words(
        "le la les des et est un une du de pour avec dans sur vous votre vos nous notre "
        "nos ce cette ces qui que quoi comment pourquoi aujourd'hui ici au aux pas plus "
        "mais très aussi il elle on c'est ne en"
    ),
    "pt": _words(
        "o a os as e é um uma do da dos das de para com em no na nos nas por você seu "
        "sua seus suas nosso nossa nós este esta isso que como hoje aqui mais mas muito "
        "também não ao à pelo pela"
    ),
}
#: Languages the detector knows.
SUPPORTED = tuple(STOP_WORDS)
#: At least this many known function words before a verdict.
MIN_HITS = 3
#: The winner must lead the runner-up by this factor (shared words such as "de" count twice).
MARGIN = 1.3

_WORD = re.compile(r"(?<![#@\w])[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def base_language(code: str) -> str:
    """`de-AT` → `de`."""
    return code.split("-", 1)[0].lower()


@lru_cache(maxsize=4096)
def detect_language(text: str) -> str | None:
    """The language of `text` among `SUPPORTED`, or None when the text says too little."""
    words = [w.casefold() for w in _WORD.findall(text)]
    hits = {lang: sum(1 for w in words if w in stops) for lang, stops in STOP_WORDS.items()}
    ranked = sorted(hits.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < MIN_HITS or top < second * MARGIN:
        return None
    return best


def language_mismatch(text: str, language: str) -> str | None:
    """The language `text` is written in when it is clearly not `language`, else None.

    Only languages the detector knows are judged: for any other brief language, None."""
    want = base_language(language)
    if want not in STOP_WORDS:
        return None
    got = detect_language(text)
    if got is None or got == want:
        return None
    return got
