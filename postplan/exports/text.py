"""Text rules shared by the formats: the post text a person would publish, and the
spreadsheet-safety prefix that neutralises formula injection (and how to undo it exactly)."""

from __future__ import annotations

import unicodedata

from postplan.channels.compose import compose
from postplan.exports.records import ExportEntry

CHANNEL_NAMES = {"tiktok": "TikTok", "instagram": "Instagram"}

#: A cell starting with one of these is read as a formula (or a DDE payload) by Excel, LibreOffice
#: and Google Sheets (OWASP "CSV injection"). The quote itself is included so that a value which
#: really starts with a quote survives the round trip: every escaped cell gains exactly one
#: leading quote.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")

#: What a formula starts with once a spreadsheet has skipped leading blanks and folded
#: compatibility forms — full-width ＝＋－＠ (U+FF1D, U+FF0B, U+FF0D, U+FF20), small ﹦﹢﹣﹫,
#: super/subscript ⁼₊ — to ASCII, as East Asian locales and some import wizards do.
_FORMULA_STARTS = frozenset("=+-@")


def _ignorable(char: str) -> bool:
    """Blank or invisible: white space, control and format characters (BOM, zero-width)."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs")


def needs_guard(value: str) -> bool:
    """Whether a spreadsheet could read the cell as a formula (or the value starts with the
    guard's own quote, which must survive the round trip)."""
    if not value:
        return False
    if value[0] in FORMULA_TRIGGERS or value[0] == "\n":
        return True
    for char in value:
        if not _ignorable(char):
            return unicodedata.normalize("NFKC", char)[:1] in _FORMULA_STARTS
    return False


def spreadsheet_safe(value: str) -> str:
    """Prefix `'` when a spreadsheet would treat the cell as a formula."""
    if needs_guard(value):
        return "'" + value
    return value


def from_spreadsheet_safe(value: str) -> str:
    """Undo `spreadsheet_safe` exactly: drop one leading quote, if any."""
    if value.startswith("'"):
        return value[1:]
    return value


def hashtag_line(entry: ExportEntry) -> str:
    """`#a #b`, or an empty string."""
    return " ".join(f"#{tag}" for tag in entry.hashtags)


def post_text(entry: ExportEntry) -> str:
    """The text the entry's channel receives, from the one composer publishing uses: hook,
    caption, call to action and hashtags, each once (a caption that holds the hook or the call
    to action does not get a second copy)."""
    try:
        return compose(entry.hook, entry.caption, entry.call_to_action, entry.hashtags,
                       entry.channel, entry.format).text
    except ValueError:  # a channel or format postplan does not know (an old import): plain join
        parts = [entry.hook, entry.caption, entry.call_to_action, hashtag_line(entry)]
        return "\n\n".join(part for part in parts if part)


def summary(entry: ExportEntry) -> str:
    """`TikTok: <hook>`; without a hook, `TikTok video`."""
    name = CHANNEL_NAMES.get(entry.channel, entry.channel)
    if entry.hook:
        return f"{name}: {entry.hook}"
    return f"{name} {entry.format}"
