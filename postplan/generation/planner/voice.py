"""What the planner reads out of a brief's `tone` and `voiceSamples` (docs/briefs.md).

`tone` (free text, any of the five languages) picks one of four registers: playful,
professional, warm or bold. `voiceSamples` only steer what can be detected safely: whether the
brand uses emoji and exclamation marks, du/Sie (German) or tu/vous (French), and sentence length.
Nothing from the samples is ever pasted into copy.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from postplan.generation.schemas import Brief

#: Tone stems (en/de/es/fr/pt, matched at the start of a word); the earliest match in the text
#: wins ("warm but professional" is warm).
TONES: dict[str, tuple[str, ...]] = {
    "playful": ("playful", "fun", "funny", "witty", "humor", "cheeky", "quirky", "verspielt",
                "locker", "witzig", "lustig", "frech", "divertid", "juguet", "desenfad",
                "ludique", "drôle", "amusant", "décalé", "descontraíd", "brincalh",
                "engraçad", "bem-humorad"),
    "professional": ("professional", "formal", "expert", "serious", "corporate", "authorit",
                     "professionell", "seriös", "sachlich", "förmlich", "profesional", "serio",
                     "professionnel", "sérieux", "formel", "profissional", "sério"),
    "warm": ("warm", "friendly", "caring", "cosy", "cozy", "gentle", "kind", "welcoming",
             "herzlich", "freundlich", "einladend", "liebevoll", "cálid", "cercan", "amable",
             "cariñ", "chaleureu", "bienveillant", "convivial", "acolhedor", "caloros",
             "afetuos", "gentil", "carinhos"),
    "bold": ("bold", "confident", "direct", "energetic", "punchy", "edgy", "motivat", "mutig",
             "direkt", "selbstbewusst", "energisch", "atrevid", "audaz", "enérgic", "directo",
             "audacieux", "énergique", "ousad", "direto", "enérgico"),
}
#: Short stems that must be whole words ("fun", not "fundiert"; "kind", not "Kinder").
_WHOLE_WORDS = frozenset({"fun", "kind"})
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")
_WORD = re.compile(r"\w+")
#: Informal and formal address per language (whole words; German "Sie" counts only when
#: capitalised and not at a sentence start, where it may mean "she/they").
_DU = re.compile(r"\b(du|dich|dir|dein\w*|euch|euer|eure\w*)\b", re.IGNORECASE)
_SIE = re.compile(r"(?<![.!?]\s)(?<!^)\b(Sie|Ihnen|Ihr|Ihre|Ihrem|Ihren|Ihrer|Ihres)\b")
_TU = re.compile(r"\b(tu|toi|ton|ta|tes|te|t')(?=\W|$)", re.IGNORECASE)
_VOUS = re.compile(r"\b(vous|votre|vos)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Voice:
    """How the planner writes for this brief.

    tone: "playful", "professional", "warm", "bold" or None; emoji: whether copy carries the
    bank's emoji; exclaim: True = CTAs end with "!", False = no "!" anywhere in captions, None =
    as written; register: a register overlay of the language bank ("formal" for German Sie,
    "informal" for French tu) or None; length: "short", "normal" or "long" captions."""

    tone: str | None = None
    emoji: bool = False
    exclaim: bool | None = None
    register: str | None = None
    length: str = "normal"


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tone_of(text: str | None) -> str | None:
    """The tone a brief's `tone` text names (the earliest match), or None."""
    if not text:
        return None
    folded = _fold(text)
    best: tuple[int, str] | None = None
    for tone, stems in TONES.items():
        for stem in stems:
            end = r"(?!\w)" if stem in _WHOLE_WORDS else ""
            m = re.search(r"(?<!\w)" + re.escape(stem) + end, folded)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), tone)
    return best[1] if best else None


def has_emoji(text: str) -> bool:
    """Whether a text holds an emoji-like symbol (Unicode category So, e.g. ☕ 💪 ✨)."""
    return any(unicodedata.category(ch) == "So" for ch in text)


def _register(language: str, samples: tuple[str, ...], tone: str | None) -> str | None:
    text = "\n".join(samples)
    if language == "de":
        du, sie = len(_DU.findall(text)), len(_SIE.findall(text))
        if sie > du or (sie == du == 0 and tone == "professional"):
            return "formal"
    elif language == "fr" and len(_TU.findall(text)) > len(_VOUS.findall(text)):
        return "informal"
    return None


def _length(samples: tuple[str, ...]) -> str:
    sentences = [s for sample in samples for s in _SENTENCE.findall(sample) if _WORD.search(s)]
    if not sentences:
        return "normal"
    mean = sum(len(_WORD.findall(s)) for s in sentences) / len(sentences)
    return "short" if mean < 9 else "long" if mean > 18 else "normal"


@lru_cache(maxsize=256)
def _voice(language: str, tone_text: str | None, samples: tuple[str, ...]) -> Voice:
    tone = tone_of(tone_text)
    exclaim = {"playful": True, "bold": True, "professional": False}.get(tone or "")
    if samples:
        emoji = any(has_emoji(s) for s in samples)
        if not any("!" in s for s in samples):
            exclaim = False
    else:
        emoji = tone in ("playful", "warm")
    return Voice(tone=tone, emoji=emoji, exclaim=exclaim,
                 register=_register(language, samples, tone), length=_length(samples))


def brief_voice(brief: Brief, language: str) -> Voice:
    """The voice for this brief in `language` (the copy bank's language)."""
    samples = tuple(s for s in brief.voice_samples or () if s and s.strip())
    return _voice(language, brief.tone, samples)
