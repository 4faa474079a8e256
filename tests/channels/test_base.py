"""The interface's own guarantees: masking, error shapes, request validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from postplan.channels import (
    AuthError,
    ChannelError,
    Credentials,
    OutcomeUnknown,
    PermanentError,
    PublishRequest,
    RetryLater,
    TokenSet,
)


def test_credentials_repr_masks_the_token() -> None:
    c = Credentials(access_token="act.SECRETSECRETSECRET", account_id="open-1")
    assert "SECRET" not in repr(c) and "SECRET" not in str(c) and "open-1" in repr(c)
    assert c.access_token == "act.SECRETSECRETSECRET"


def test_tokenset_repr_hides_tokens() -> None:
    t = TokenSet(access_token="act.AAAA1111", refresh_token="rft.BBBB2222", expires_in=7200,
                 account_id="o")
    assert "AAAA1111" not in repr(t) and "BBBB2222" not in repr(t)


def test_error_hierarchy_and_shape() -> None:
    for cls in (AuthError, RetryLater, PermanentError, OutcomeUnknown):
        assert issubclass(cls, ChannelError)
    e = PermanentError("tiktok_invalid_param", "TikTok rejected a parameter.",
                       platform_code="invalid_param", http_status=400)
    assert str(e) == "tiktok_invalid_param: TikTok rejected a parameter. [invalid_param]"
    assert e.as_error() == {"code": "tiktok_invalid_param",
                            "message": "TikTok rejected a parameter.",
                            "platformCode": "invalid_param"}
    r = RetryLater("x", "y", retry_after=3.5, from_platform=True, handle="h")
    assert (r.retry_after, r.from_platform, r.handle) == (3.5, True, "h")
    assert AuthError("a", "b", needs_scope=True).needs_scope
    assert "platform_code" in repr(e)


def test_request_rejects_unknown_channel_and_media_type() -> None:
    base = {"intent_id": "i", "channel": "tiktok", "format": "video", "caption": "c",
            "media": [{"url": "https://x/y.mp4", "type": "video"}],
            "scheduled_at": datetime(2030, 1, 1, tzinfo=UTC), "account_id": "a"}
    assert PublishRequest.model_validate(base).hashtags == []
    with pytest.raises(ValidationError):
        PublishRequest.model_validate({**base, "channel": "myspace"})
    with pytest.raises(ValidationError):
        PublishRequest.model_validate({**base, "media": [{"url": "u", "type": "gif"}]})
