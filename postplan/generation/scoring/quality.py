"""The copy-quality report: how good the words are, as numbers (docs/quality.md).

`score_calendar` says whether a calendar is well-formed and well-scheduled; this report says
whether a creator would post it. Every metric is a rate in 0..1 with a stated direction, so the
benchmark (`bench/quality.py`) can average them over many briefs and compare with a baseline:

* `grammar_issue_rate` ↓: entries with a template artefact (a doubled word, dangling
  punctuation such as "shop and?", an empty slot, "you, you", the audience description pasted).
* `off_niche_rate` ↓: entries whose hook and caption name nothing of the niche family (the niche
  text pasted verbatim does not count).
* `hashtag_invalid_rate` ↓: tags that are malformed, apostrophe artefacts (`#ValentineSDay`), or
  over the channel's limit.
* `hashtag_top_share` ↓: the share of posts carrying the most frequent non-brand tag.
* `hashtag_distinct_ratio` ↑: distinct tags / tags used.
* `cta_goal_fit` ↑: entries whose call to action serves a goal of the brief.
* `cta_conflict_rate` ↓: calls to action asking for a conversion the goals do not want (online
  shopping when the goal is visits to the shop).
* `foreign_occasion_rate` ↓: entries naming another country's occasion.
* `occasion_recall` ↑: the country's expected days in range that some entry names.
* `distinct_hook_ratio` ↑ and `distinct_opener_ratio` ↑: distinct hooks, and distinct first two
  words of hooks, per entry.
* `language_mismatch_rate` ↓: entries written in another language than the brief's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from postplan.generation.planner.text import is_valid_hashtag, normalise_hook
from postplan.generation.schemas import Brief, EntryDraft
from postplan.generation.scoring.content import HASHTAG_LIMITS
from postplan.generation.scoring.language import language_mismatch
from postplan.generation.scoring.niches import niche_family, on_niche, words
from postplan.generation.scoring.occasions import expected_in_range, foreign_occasions, mentions

#: metric → True when higher is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "grammar_issue_rate": False,
    "off_niche_rate": False,
    "hashtag_invalid_rate": False,
    "hashtag_top_share": False,
    "hashtag_distinct_ratio": True,
    "cta_goal_fit": True,
    "cta_conflict_rate": False,
    "foreign_occasion_rate": False,
    "occasion_recall": True,
    "distinct_hook_ratio": True,
    "distinct_opener_ratio": True,
    "language_mismatch_rate": False,
}

_DOUBLED = re.compile(r"\b(\w{2,})\s+\1\b", re.IGNORECASE | re.UNICODE)
# A conjunction or article right before a question mark, full stop or colon: "shop and?".
# (German der/die/das are left out: "Genau das." and "das, was" are good German.)
_DANGLING = re.compile(
    r"\b(and|or|the|a|to|of|und|oder|y|o|el|la|et|ou|le|les|e|os|as)\s*[?.!:](?!\w)",
    re.IGNORECASE)
# Empty template slots and orphaned punctuation. A space before ":;!?" is French typography,
# so only " ," and " ." count as orphaned.
_EMPTY_SLOT = re.compile(r"\{\w*\}|\[\w*\]|<\w*>|\(\s*\)|\s[,.](?!\.)|[,;:]\s*[.!?]|\.\.(?!\.)")
_YOU_YOU = re.compile(r"\b(you|du|tú|vous|você)\s*,\s*\1\b", re.IGNORECASE)
# `#NewYearSEve`, `#ValentineSDay`: an apostrophe-s glued into the tag as a capital S.
_APOSTROPHE_TAG = re.compile(r"[a-z]S(?=[A-Z]|$)")

# Intent words, in the five languages. Goals are matched on these stems; CTAs too.
_INTENTS: dict[str, tuple[str, ...]] = {
    "visit": ("visit", "come by", "come in", "stop by", "drop by", "drop in", "see you at",
              "in store", "in-store", "in our shop", "at the shop", "find us", "besuch",
              "vorbei", " laden", "vor ort", "visita", "ven a", "pásate", "venez", "passez",
              "visite", "venha", "loja física", "directions", "foot traffic", "walk-in",
              "bei uns rein", "sehen uns bei", "nos vemos en", "à très vite chez",
              "até logo na", "venez nous voir"),
    "online_sale": ("shop now", "shop online", "online shop", "onlineshop", "shop the",
                    "shop our", "shop through", "link in bio", "buy", "order online",
                    "checkout", "online", "kauf", "bestell", "compra", "tienda online",
                    "achet", "commande", "boutique en ligne", "compre", "encomend", "sales",
                    "revenue", "umsatz", "ventas", "ventes", "vendas"),
    "follow": ("follow", "folg", "sigue", "síguenos", "suivez", "abonne", "siga", "segue",
               "grow", "reach", "awareness", "reichweite", "seguidores", "abonnés",
               "followers", "audience"),
    "engage": ("comment", "kommentier", "comenta", "commente", "share", "teilen", "teile ",
               "compart", "partag", "compartilh", "save", "speicher", "guarda", "enregistr",
               "salv", "tag ", "markier", "etiquet", "engagement", "community", "tell us",
               "sag uns", "dinos", "dites-nous", "conta pra"),
    "signup": ("newsletter", "sign up", "subscribe", "register", "book ", "booking",
               "anmeld", "abonnier", "buch", "termin", "reserv", "réserv", "suscrib", "inscri",
               "regist", "agend", "lead", "trial", "probetraining", "free class",
               "clase de prueba", "essai", "aula", "clients", "kunden", "clientes"),
}
#: A CTA of one conversion intent conflicts with a goal of another one.
_CONVERSIONS = frozenset({"visit", "online_sale", "signup"})


def intents(text: str) -> set[str]:
    """The intents whose stems appear in `text`."""
    low = " " + text.casefold() + " "
    low = re.sub(r"visit (the|our) link", "link", low)  # a link in bio is not a visit
    return {name for name, stems in _INTENTS.items() if any(s in low for s in stems)}


@dataclass
class QualityReport:
    """One calendar's copy-quality metrics (all 0..1) and a few examples of each problem."""

    metrics: dict[str, float]
    entries: int
    examples: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly summary."""
        return {"entries": self.entries,
                "metrics": {k: round(v, 4) for k, v in self.metrics.items()},
                "examples": self.examples}


def grammar_problems(text: str, audience: str | None) -> list[str]:
    """Template artefacts in one piece of copy (empty when it reads cleanly)."""
    found: list[str] = []
    if m := _DOUBLED.search(text):
        found.append(f"doubled word {m.group(0)!r}")
    if m := _DANGLING.search(text):
        found.append(f"dangling {m.group(0)!r}")
    if m := _EMPTY_SLOT.search(text):
        found.append(f"empty slot {m.group(0)!r}")
    if m := _YOU_YOU.search(text):
        found.append(f"repeated address {m.group(0)!r}")
    if audience and len(audience.split()) >= 3 and audience.casefold() in text.casefold():
        found.append("audience description pasted")
    return found


def _rate(bad: int, total: int) -> float:
    return bad / total if total else 0.0


def _add(examples: dict[str, list[str]], key: str, text: str) -> None:
    items = examples.setdefault(key, [])
    if len(items) < 3:
        items.append(text)


def quality_report(brief: Brief, entries: Sequence[EntryDraft]) -> QualityReport:
    """Measure a calendar's copy (planner, AI or partial output alike)."""
    n = len(entries)
    ex: dict[str, list[str]] = {}
    family = niche_family(brief.niche)
    niche_text = (brief.niche or "").casefold()
    brand_words = frozenset(words(brief.brand))
    pillar_words = frozenset(w for p in (brief.pillars or []) for w in words(p) if len(w) > 3)
    goal_intents = intents(brief.goals or "") & _CONVERSIONS | (
        intents(brief.goals or "") & {"follow", "engage"})

    grammar = off = wrong_lang = foreign = fit = conflict = 0
    tags_total = tags_bad = 0
    tag_posts: Counter[str] = Counter()
    all_tags: list[str] = []
    text_all: list[str] = []
    for e in entries:
        copy = f"{e.hook}\n{e.caption}\n{e.call_to_action}"
        text_all.append(copy)
        if problems := grammar_problems(copy, brief.audience):
            grammar += 1
            _add(ex, "grammar", f"{problems[0]}: {e.hook!r}")
        if family is not None:
            # The niche and the brand pasted verbatim say nothing about the topic.
            own = f"{e.hook}\n{e.caption}".casefold().replace(brief.brand.casefold(), " ")
            if niche_text:
                own = own.replace(niche_text, " ")
            if not on_niche(own, family, pillar_words - brand_words):
                off += 1
                _add(ex, "off_niche", e.hook)
        if got := language_mismatch(f"{e.hook}\n{e.caption}", brief.language):
            wrong_lang += 1
            _add(ex, "language", f"{got}: {e.hook!r}")
        if names := foreign_occasions(copy, brief.country):
            foreign += 1
            _add(ex, "foreign_occasion", f"{names[0]}: {e.hook!r}")
        _low, high = HASHTAG_LIMITS.get(e.channel, (0, 5))
        over = max(0, len(e.hashtags) - high)
        bad = [t for t in e.hashtags if not is_valid_hashtag(t) or _APOSTROPHE_TAG.search(t)]
        tags_total += len(e.hashtags)
        tags_bad += len(bad) + over
        for t in bad:
            _add(ex, "hashtag", t)
        brandless = {t.casefold() for t in e.hashtags} - {
            "".join(brand_words), brief.brand.casefold().replace(" ", "")}
        tag_posts.update(brandless)
        all_tags.extend(t.casefold() for t in e.hashtags)
        cta = intents(e.call_to_action)
        if not goal_intents or cta & goal_intents:
            fit += 1
        if goal_intents & _CONVERSIONS and cta & _CONVERSIONS and not (
                cta & goal_intents & _CONVERSIONS):
            conflict += 1
            _add(ex, "cta_conflict", e.call_to_action)

    expected = expected_in_range(brief.country, brief.start_date, brief.days)
    joined = "\n".join(text_all)
    found = [name for name, pattern in expected if mentions(joined, pattern)]
    for name, _ in expected:
        if name not in found:
            _add(ex, "occasion_missing", name)
    hooks = [normalise_hook(e.hook) for e in entries]
    openers = [" ".join(h.split()[:2]) for h in hooks]
    top = tag_posts.most_common(1)[0][1] if tag_posts else 0
    metrics = {
        "grammar_issue_rate": _rate(grammar, n),
        "off_niche_rate": _rate(off, n),
        "hashtag_invalid_rate": _rate(tags_bad, tags_total),
        "hashtag_top_share": _rate(top, n),
        "hashtag_distinct_ratio": _rate(len(set(all_tags)), len(all_tags)) if all_tags else 1.0,
        "cta_goal_fit": _rate(fit, n) if n else 1.0,
        "cta_conflict_rate": _rate(conflict, n),
        "foreign_occasion_rate": _rate(foreign, n),
        "occasion_recall": len(found) / len(expected) if expected else 1.0,
        "distinct_hook_ratio": _rate(len(set(hooks)), n) if n else 1.0,
        "distinct_opener_ratio": _rate(len(set(openers)), n) if n else 1.0,
        "language_mismatch_rate": _rate(wrong_lang, n),
    }
    return QualityReport(metrics, n, ex)
