"""The languages the planner writes itself (templates written per language, not translated)."""

from __future__ import annotations

#: ISO 639-1 codes with a copy bank in generation/data/copy/<code>.json.
SUPPORTED: tuple[str, ...] = ("en", "de", "es", "fr", "pt")


def base_language(language: str) -> str:
    """'pt-BR' → 'pt'; 'DE' → 'de'."""
    return language.split("-")[0].casefold()


def planner_supports(language: str) -> bool:
    """Whether the offline planner writes real copy in this language (a BCP 47 tag such as
    "de" or "pt-BR"); other languages need a model."""
    return base_language(language) in SUPPORTED


def copy_language(language: str) -> str:
    """The copy bank the planner uses: the language's own, English when it has none (only
    reachable when a model was configured but the planner runs anyway)."""
    base = base_language(language)
    return base if base in SUPPORTED else "en"
