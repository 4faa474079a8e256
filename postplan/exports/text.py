"""Text rules shared by the formats: the post text a person would publish, and the
spreadsheet-safety prefix that neutralises formula injection (and how to undo it exactly)."""

from __future__ import annotations

from postplan.exports.records import ExportEntry

CHANNEL_NAMES = {"tiktok": "TikTok", "instagram": "Instagram"}

#: A cell starting with one of these is read as a formula (or a DDE payload) by Excel, LibreOffice
#: and Google Sheets. The quote itself is included so that a value which really starts with a
#: quote survives the round trip: every escaped cell gains exactly one leading quote.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


def spreadsheet_safe(value: str) -> str:
    """Prefix `'` when a spreadsheet would treat the cell as a formula."""
    if value and value[0] in FORMULA_TRIGGERS:
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
    """Caption, call to action and hashtags, separated by blank lines (empty parts skipped)."""
    parts = [entry.caption, entry.call_to_action, hashtag_line(entry)]
    return "\n\n".join(part for part in parts if part)


def summary(entry: ExportEntry) -> str:
    """`TikTok: <hook>`; without a hook, `TikTok video`."""
    name = CHANNEL_NAMES.get(entry.channel, entry.channel)
    if entry.hook:
        return f"{name}: {entry.hook}"
    return f"{name} {entry.format}"
