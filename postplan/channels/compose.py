"""The one composer of a post's text: what each channel receives from an entry's `hook`,
`caption`, `callToAction` and `hashtags`, within that platform's limits.

Preview, export (CSV, ICS, JSON) and publish all call `compose`, so an edit to any of the four
fields reaches every one of them. Order: hook (first line), caption, call to action, hashtags;
a part the caption already holds is not repeated (generated captions embed the hook and the call
to action; `calendars` keeps those copies in step when a person edits the hook or the CTA).
Pure: no network, no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from postplan.channels.base import Finding
from postplan.channels.text import count_hashtags, count_mentions
from postplan.core.text import utf16_len
from postplan.core.vocab import Channel, EntryFormat

__all__ = ["LIMITS", "ComposedText", "TextLimits", "compose", "paragraphs", "same_text"]


@dataclass(frozen=True)
class TextLimits:
    """One platform's text limits for one kind of post; `utf16` says how length is counted."""

    text_max: int
    utf16: bool
    hashtags_max: int | None = None
    mentions_max: int | None = None
    title_max: int | None = None


#: Per channel and format (None: the channel's default). TikTok counts UTF-16 code units (video
#: caption 2,200; photo description 4,000 and title 90); Instagram 2,200 characters, 30 hashtags
#: and 20 @-mentions (docs: shared reference, channel-apis.md 1.4, 1.7, 2.5.1).
LIMITS: dict[tuple[Channel, EntryFormat | None], TextLimits] = {
    (Channel.tiktok, None): TextLimits(text_max=2200, utf16=True),
    (Channel.tiktok, EntryFormat.photo): TextLimits(text_max=4000, utf16=True, title_max=90),
    (Channel.instagram, None): TextLimits(text_max=2200, utf16=False, hashtags_max=30,
                                          mentions_max=20),
}

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ComposedText:
    """What one channel receives: `text` (TikTok video title / photo description, Instagram
    caption), `title` (TikTok photo title only), and the findings when a limit is exceeded."""

    channel: Channel
    format: EntryFormat | None
    text: str
    title: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """camelCase, for previews and exports."""
        out: dict[str, object] = {"text": self.text}
        if self.title is not None:
            out["title"] = self.title
        return out


def same_text(a: str, b: str) -> bool:
    """Equal once white space is collapsed and case folded (how a copy is recognised)."""
    return _norm(a) == _norm(b)


def _norm(value: str) -> str:
    return _SPACE.sub(" ", value).strip().casefold()


def paragraphs(text: str) -> list[str]:
    """The blank-line separated paragraphs of `text`, trimmed, empty ones dropped."""
    return [p.strip() for p in _BLANK_LINE.split(text.replace("\r\n", "\n")) if p.strip()]


def _holds(text: str, part: str) -> bool:
    return bool(_norm(part)) and _norm(part) in _norm(text)


def _missing_tags(text: str, hashtags: Sequence[str]) -> list[str]:
    """`#tag` for every hashtag the text does not already hold (as a whole tag), in order."""
    lowered = text.casefold()
    out: list[str] = []
    for tag in hashtags:
        tag = tag.strip().lstrip("#")
        if not tag:
            continue
        token = f"#{tag}"
        if re.search(re.escape(token.casefold()) + r"(?!\w)", lowered) or token in out:
            continue
        out.append(token)
    return out


def _limits(channel: Channel, fmt: EntryFormat | None) -> TextLimits:
    return LIMITS.get((channel, fmt)) or LIMITS[(channel, None)]


def _shorten(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units, cut at a word boundary with an ellipsis."""
    if utf16_len(text) <= limit:
        return text
    cut = text
    while cut and utf16_len(cut) > limit - 1:
        cut = cut[:-1]
    head = cut.rsplit(" ", 1)[0] if " " in cut.strip() else cut
    return head.rstrip(" ,.;:-") + "…"


def _findings(channel: Channel, fmt: EntryFormat | None, text: str,
              hashtags: Sequence[str]) -> list[Finding]:
    limits = _limits(channel, fmt)
    name = "TikTok" if channel is Channel.tiktok else "Instagram"
    out: list[Finding] = []
    length = utf16_len(text) if limits.utf16 else len(text)
    if length > limits.text_max:
        unit = "UTF-16 units" if limits.utf16 else "characters"
        out.append(Finding(code="caption_too_long", field="caption",
                           message=f"The {name} text is at most {limits.text_max} {unit}; "
                           f"hook, caption, call to action and hashtags make {length}."))
    if limits.hashtags_max is not None:
        tags = max(count_hashtags(text), len(hashtags))
        if tags > limits.hashtags_max:
            out.append(Finding(code="too_many_hashtags", field="hashtags",
                               message=f"{name} allows {limits.hashtags_max} hashtags; this "
                               f"has {tags}."))
    if limits.mentions_max is not None:
        mentions = count_mentions(text)
        if mentions > limits.mentions_max:
            out.append(Finding(code="too_many_mentions", field="caption",
                               message=f"{name} allows {limits.mentions_max} @-mentions; this "
                               f"has {mentions}."))
    return out


def compose(hook: str, caption: str, call_to_action: str, hashtags: Sequence[str],
            channel: Channel | str, format: EntryFormat | str | None = None) -> ComposedText:
    """The text `channel` receives for an entry: hook, caption, call to action, hashtags, each
    once, separated by blank lines; findings say which platform limit it exceeds (the text is
    never cut: the person decides what to drop). Instagram stories carry no text."""
    channel = Channel(channel)
    fmt = EntryFormat(format) if format is not None else None
    # An entry not yet saved may hold None where the table stores "".
    hook, caption, call_to_action = hook or "", caption or "", call_to_action or ""
    hashtags = list(hashtags or [])
    if channel is Channel.instagram and fmt is EntryFormat.story:
        return ComposedText(channel=channel, format=fmt, text="")
    body = caption.strip()
    parts: list[str] = []
    if hook.strip() and not _holds(body, hook):
        parts.append(hook.strip())
    if body:
        parts.append(body)
    cta = call_to_action.strip()
    if cta and not _holds(body, cta):
        parts.append(cta)
    text = "\n\n".join(parts)
    tags = _missing_tags(text, hashtags)
    if tags:
        text = f"{text}\n\n{' '.join(tags)}" if text else " ".join(tags)
    title: str | None = None
    limits = _limits(channel, fmt)
    if limits.title_max is not None and hook.strip():
        # The photo title is a headline beside the full description: shortened, never refused.
        title = _shorten(hook.strip(), limits.title_max)
    return ComposedText(channel=channel, format=fmt, text=text, title=title,
                        findings=_findings(channel, fmt, text, hashtags))
