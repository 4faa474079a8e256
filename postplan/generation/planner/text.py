"""Text helpers shared by the copywriter and the scorer: normalising, similarity, limits."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

HOOK_MAX = 100
CAPTION_MAX = 2200  # Instagram hard limit; TikTok's API title limit counted in UTF-16 units
HASHTAG_MAX_LEN = 30
CTA_LIMIT = 200
ASSET_NOTES_LIMIT = 1000
NEAR_DUPLICATE = 0.8  # token-set Jaccard at or above this is a near-duplicate hook

_TAG_RE = re.compile(r"^\w+$")
_WORD_RE = re.compile(r"\w+")


def normalise_hook(text: str) -> str:
    """Casefold, drop punctuation and symbols (emoji included), collapse whitespace."""
    kept = [
        " " if unicodedata.category(ch)[0] in "PSZC" else ch
        for ch in unicodedata.normalize("NFKC", text).casefold()
    ]
    return " ".join("".join(kept).split())


def tokens(text: str) -> frozenset[str]:
    """The set of word tokens of a (normalised or raw) text."""
    return frozenset(_WORD_RE.findall(text.casefold()))


def token_set_similarity(a: str | frozenset[str], b: str | frozenset[str]) -> float:
    """Jaccard similarity of the word sets of two texts (1.0 = same words)."""
    ta = a if isinstance(a, frozenset) else tokens(a)
    tb = b if isinstance(b, frozenset) else tokens(b)
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def is_valid_hashtag(tag: str) -> bool:
    """A hashtag without '#': Unicode word characters only, at most HASHTAG_MAX_LEN."""
    return bool(_TAG_RE.match(tag)) and len(tag) <= HASHTAG_MAX_LEN


@lru_cache(maxsize=2048)
def to_hashtag(text: str, max_len: int = HASHTAG_MAX_LEN) -> str:
    """CamelCase-join the words of a phrase into a tag ('' if nothing usable is left)."""
    words = _WORD_RE.findall(unicodedata.normalize("NFKC", text))
    tag = "".join(w[:1].upper() + w[1:] if w.isascii() else w for w in words).replace("_", "")
    return tag[:max_len]


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary so the result has at most `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut or text[:limit]


def capitalise_first(text: str) -> str:
    """Upper-case the first character only (unlike str.capitalize)."""
    return text[:1].upper() + text[1:]
