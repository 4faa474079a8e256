"""The worker's second look at a stored publish request: it acts only on what the API could
have stored.

The publish endpoint builds each intent's request from the saved entry (`requests.build_request`)
and queues it only when the channel's offline rules find nothing (`service.publish_calendar`).
The worker reads that request back from the database much later. A row changed in between (a
direct write through Supabase's API where grants allowed it, an operator's hand edit, a bug)
must not make the worker send what the API would have refused: an option the API never sets
(TikTok `source=FILE_UPLOAD` makes the worker download the media URL itself), a media URL the
API refuses, another intent's id or another channel. Such a request is refused, never sent,
and its intent ends `failed` with `invalid_stored_request`.

The checks are the endpoint's own (the adapter's `validate`, plus the shared media URL rules)
and the invariants of how it builds a request. Two of its checks are left out because time has
moved on since: the scheduled time (it is due now, so it is checked as "now") and the daily
quota (the platform's own limit applies at send time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pydantic import ConfigDict, ValidationError

from postplan.channels.base import ChannelAdapter, Finding, PublishRequest
from postplan.channels.validation import check_media_urls
from postplan.core.vocab import Channel

__all__ = [
    "ALREADY_PUBLISHED",
    "API_OPTIONS",
    "INVALID_STORED_REQUEST",
    "StoredRequestRefused",
    "already_published",
    "load_request",
    "request_findings",
]

INVALID_STORED_REQUEST = "invalid_stored_request"
ALREADY_PUBLISHED = "already_published"

#: The options the publish endpoint can put into a request, per channel: what
#: `requests.request_options` makes of an entry's `channelOptions`. Anything else in a stored
#: request did not come from the API.
API_OPTIONS: Mapping[Channel, frozenset[str]] = MappingProxyType({
    Channel.tiktok: frozenset({"post_mode", "disable_comment", "disable_duet", "disable_stitch",
                               "brand_content_toggle", "brand_organic_toggle", "is_aigc",
                               "music_usage_confirmed", "title"}),
    # Never `cover_url`: a stored request names its cover by id only, signed at send time,
    # so a row changed behind postplan's back cannot make Instagram fetch another URL.
    Channel.instagram: frozenset({"alt_text", "thumb_offset", "collaborators",
                                  "user_tags", "location_id", "share_to_feed",
                                  "first_comment", "cover_media_id"}),
})

#: `when` values the endpoint takes (`PublishBody.when`).
WHEN = frozenset({"scheduled", "now"})

#: Findings listed in an error at most; a garbled request can have hundreds.
MAX_FINDINGS = 10


class _Stored(PublishRequest):
    """A stored request parsed strictly: a key the API never writes is an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class StoredRequestRefused(Exception):
    """The stored intent must not be sent; `as_error` is its intent's `error`."""

    def __init__(self, code: str, message: str, findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.findings = list(findings or [])[:MAX_FINDINGS]

    def as_error(self) -> dict[str, Any]:
        """`{code, message, findings?}`; messages name the field, never echo its value."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.findings:
            error["findings"] = [f.model_dump(exclude_none=True) for f in self.findings]
        return error


def _refused(findings: list[Finding]) -> StoredRequestRefused:
    detail = "; ".join(f"{f.field or 'request'}: {f.message}" for f in findings[:MAX_FINDINGS])
    return StoredRequestRefused(
        INVALID_STORED_REQUEST,
        "The stored publish request is not one postplan's API would have accepted, so it was "
        f"not sent ({detail}). Publish the entry again through the API.", findings)


def request_findings(req: PublishRequest, adapter: ChannelAdapter, now: datetime, *,
                     content: bool = True) -> list[Finding]:
    """What the publish endpoint would refuse in `req` now, the schedule and quota aside.

    `content=False` leaves out the channel's content rules (text, media per format): they guard
    what is sent, and an intent already sent is only asked about. The options and media URLs
    are always checked: they decide what the worker itself would fetch.
    """
    findings: list[Finding] = []
    allowed = API_OPTIONS.get(req.channel, frozenset())
    for name in sorted(set(req.options) - allowed):
        findings.append(Finding(code="option_not_allowed", field=f"options.{name[:64]}",
                                message="postplan's API does not set this option."))
    if req.channel is not Channel.tiktok and req.privacy_level is not None:
        findings.append(Finding(code="option_not_allowed", field="privacyLevel",
                                message=f"privacyLevel does not apply to {req.channel.value}."))
    findings += check_media_urls(req)
    if content:
        findings += adapter.validate(req.model_copy(update={"scheduled_at": now}), now=now,
                                     posts_in_last_24h=0)
    unique: dict[tuple[str, str | None, str], Finding] = {}
    for finding in findings:  # the adapter checks media URLs too
        unique.setdefault((finding.code, finding.field, finding.message), finding)
    return list(unique.values())


def load_request(row: Any, adapter_for: Callable[[str], ChannelAdapter], now: datetime, *,
                 sending: bool = True) -> tuple[ChannelAdapter, PublishRequest]:
    """The channel's adapter and the row's stored request, once the request passes every check
    the API made before storing it; StoredRequestRefused otherwise. `sending=False` (an intent
    already sent, to poll or reconcile) skips the content rules: a rule tightened since must not
    fail a post the platform may already be publishing."""
    try:
        channel = Channel(row.channel)
    except ValueError:
        raise _refused([Finding(code="channel_unknown", field="channel",
                                message="not a channel postplan publishes to.")]) from None
    if row.when not in WHEN:
        raise _refused([Finding(code="when_invalid", field="when",
                                message="must be scheduled or now.")])
    if not isinstance(row.request, dict):
        raise _refused([Finding(code="request_missing", field="request",
                                message="a live intent needs its stored request.")])
    try:
        stored = _Stored.model_validate(row.request)
    except ValidationError as exc:
        raise _refused([
            Finding(code="request_malformed",
                    field=".".join(str(p) for p in err["loc"])[:120] or None,
                    message=str(err["msg"])[:200])
            for err in exc.errors(include_url=False, include_input=False)]) from None
    req: PublishRequest = stored  # the same fields; only the parse was stricter
    findings: list[Finding] = []
    if req.intent_id != str(row.id):
        findings.append(Finding(code="intent_mismatch", field="intentId",
                                message="names another intent."))
    if req.channel is not channel:
        findings.append(Finding(code="channel_mismatch", field="channel",
                                message="differs from the intent's channel."))
    adapter = adapter_for(channel.value)
    if not findings:
        findings = request_findings(req, adapter, now, content=sending)
    if findings:
        raise _refused(findings)
    return adapter, req


def already_published(row: Any, published_before: bool) -> StoredRequestRefused | None:
    """A refusal when this intent already went live: a platform post id is recorded, or the
    attempt log has a `published` outcome. Only a changed row asks to send such an intent
    again (`published` is final), and sending it would post twice."""
    if row.platform_post_id is None and not published_before:
        return None
    return StoredRequestRefused(
        ALREADY_PUBLISHED,
        "This intent was already published"
        + (f" (platform post {str(row.platform_post_id)[:64]})" if row.platform_post_id else "")
        + "; it was not sent again.")
