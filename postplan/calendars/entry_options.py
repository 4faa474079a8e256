"""What an edit does to an entry's posting choices and its caption.

`entry_options`: the `channelOptions` an entry stores, checked against the entry's channel (a
block for another channel is refused) and TikTok's fixed rules. `carry_edit`: the caption's copy
of the hook or the call to action follows an edit of that field.
"""

from __future__ import annotations

from typing import Any

from postplan.channels.compose import paragraphs, same_text
from postplan.core.channel_options import ChannelOptions, options_json
from postplan.core.errors import Unprocessable

__all__ = ["carry_edit", "entry_options"]


def _refuse(code: str, field: str, message: str) -> Unprocessable:
    return Unprocessable(message, code=code,
                         extra={"errors": [{"field": field, "message": message}]})


def entry_options(channel: str, options: ChannelOptions | None) -> dict[str, Any]:
    """The stored form of `options` for an entry on `channel`; 422 for another channel's block
    or a combination TikTok never accepts (branded content that only the creator can see)."""
    if options is None:
        return {}
    for name in ChannelOptions.model_fields:
        if name != channel and getattr(options, name) is not None:
            raise _refuse("channel_options_mismatch", f"channelOptions.{name}",
                          f"this entry is on {channel}; {name} options do not apply to it")
    tiktok = options.tiktok
    if tiktok is not None and tiktok.brand_content_toggle and \
            tiktok.privacy_level == "SELF_ONLY":
        raise _refuse("tiktok_branded_content_private", "channelOptions.tiktok.privacyLevel",
                      "branded content cannot be private (SELF_ONLY): choose who can see it")
    return options_json(options)


def carry_edit(caption: str, old: str, new: str | None, *, first: bool) -> str:
    """`caption` with its copy of `old` (its first paragraph, or its last when `first` is
    False) replaced by `new`, or removed when `new` is empty. Unchanged when the caption does
    not hold `old` there (the person wrote their own) or when nothing was edited."""
    if new is None or not old.strip() or same_text(old, new):
        return caption
    parts = paragraphs(caption)
    if len(parts) < 2:
        return caption
    index = 0 if first else len(parts) - 1
    if not same_text(parts[index], old):
        return caption
    if new.strip():
        parts[index] = new.strip()
    else:
        del parts[index]
    return "\n\n".join(parts)
