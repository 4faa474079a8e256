"""`revalidate.load_request` against the real adapters' rules: what the publish endpoint stores
passes, every kind of change it could not have made is refused; and the worker ends such an
intent `failed` instead of crashing on it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from postplan.channels import registry
from postplan.channels.base import ChannelAdapter
from postplan.config import Settings
from postplan.models import CalendarEntry
from postplan.publishing.requests import build_request
from postplan.publishing.tables import intents
from postplan.publishing.worker.revalidate import StoredRequestRefused, load_request
from tests.publishing.conftest import APP_CREDS, StubGateway, seed_calendar
from tests.publishing.helpers import add_connection, intent_rows, make_worker, queue, statuses

NOW = dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def adapter_for() -> Callable[[str], ChannelAdapter]:
    http = httpx.AsyncClient()  # never opened: validation is offline
    adapters = {c: registry.get_adapter(c, http=http, api_base="https://api.example.com",
                                        api_version="v25.0") for c in ("tiktok", "instagram")}
    return adapters.__getitem__


def _row(channel: str = "tiktok", fmt: str | None = None, **entry: Any) -> SimpleNamespace:
    """An intent row as the publish endpoint writes it."""
    fields: dict[str, Any] = {
        "id": uuid.uuid4(), "calendar_id": uuid.uuid4(), "user_id": "u", "channel": channel,
        "format": fmt or ("video" if channel == "tiktok" else "reel"), "caption": "Hello",
        "hashtags": ["tag"], "scheduled_at": NOW + dt.timedelta(days=1), "version": 1,
        "media": [{"url": "https://cdn.example.com/a.mp4", "type": "video"}],
        "channel_options": {"tiktok": {"privacyLevel": "SELF_ONLY",
                                       "musicUsageConfirmed": True}}}
    fields.update(entry)
    row_id = fields.pop("id")
    req = build_request(CalendarEntry(**fields), intent_id=row_id, account_id="acct",
                        when="scheduled", now=NOW, privacy_level=None)
    return SimpleNamespace(id=row_id, channel=channel, when="scheduled",
                           request=req.model_dump(mode="json"), platform_post_id=None)


def _refusal(row: SimpleNamespace, adapter_for: Callable[[str], ChannelAdapter]) -> list[str]:
    with pytest.raises(StoredRequestRefused) as info:
        load_request(row, adapter_for, NOW)
    error = info.value.as_error()
    assert error["code"] == "invalid_stored_request"
    return [f["code"] for f in error.get("findings", [])]


@pytest.mark.parametrize("channel", ["tiktok", "instagram"])
def test_what_the_endpoint_stores_passes(
    channel: str, adapter_for: Callable[[str], ChannelAdapter],
) -> None:
    row = _row(channel)
    adapter, req = load_request(row, adapter_for, NOW)
    assert adapter is adapter_for(channel)
    assert req.model_dump(mode="json") == row.request


@pytest.mark.parametrize(("change", "codes"), [
    ({"channel": "myspace"}, ["channel_unknown"]),
    ({"when": "yesterday"}, ["when_invalid"]),
    ({"request": None}, ["request_missing"]),
    ({"request": ["not", "an", "object"]}, ["request_missing"]),
    ({"request": {"caption": "only this"}}, ["request_malformed"]),
])
def test_a_broken_row_is_refused(
    change: dict[str, Any], codes: list[str], adapter_for: Callable[[str], ChannelAdapter],
) -> None:
    row = _row()
    vars(row).update(change)
    assert sorted(set(_refusal(row, adapter_for))) == codes


@pytest.mark.parametrize(("channel", "change", "code"), [
    ("tiktok", {"intent_id": str(uuid.uuid4())}, "intent_mismatch"),
    ("tiktok", {"channel": "instagram"}, "channel_mismatch"),
    ("tiktok", {"video_url": "https://cdn.example.com/b.mp4"}, "request_malformed"),
    ("tiktok", {"options": {"source": "FILE_UPLOAD"}}, "option_not_allowed"),
    ("tiktok", {"options": {"auto_add_music": True}}, "option_not_allowed"),
    ("instagram", {"options": {"cover_url": "https://cdn.example.com/c.jpg"}},
     "option_not_allowed"),
    ("instagram", {"privacy_level": "PUBLIC_TO_EVERYONE"}, "option_not_allowed"),
    ("tiktok", {"privacy_level": "EVERYONE_AND_THEIR_DOG"}, "privacy_level_invalid"),
    ("tiktok", {"format": "reel"}, "format_not_supported"),
    ("tiktok", {"caption": "x" * 2201}, "caption_too_long"),
    ("tiktok", {"media": []}, "media_missing"),
    ("tiktok", {"media": [{"url": "https://cdn.example.com/a.mp4", "type": "video"}] * 2},
     "media_count_invalid"),
    ("tiktok", {"media": [{"url": "https://10.0.0.7/a.mp4", "type": "video"}]},
     "media_url_invalid"),
    ("instagram", {"media": [{"url": "https://metadata.google.internal/a", "type": "video"}]},
     "media_url_invalid"),
    ("instagram", {"media": [{"url": "http://cdn.example.com/a.mp4", "type": "video"}]},
     "media_url_invalid"),
])
def test_a_changed_request_is_refused(
    channel: str, change: dict[str, Any], code: str,
    adapter_for: Callable[[str], ChannelAdapter],
) -> None:
    row = _row(channel)
    row.request = {**row.request, **change}
    assert code in _refusal(row, adapter_for)


def test_a_refusal_names_fields_not_values(adapter_for: Callable[[str], ChannelAdapter]) -> None:
    row = _row()
    secret = "https://10.0.0.7/a.mp4?sig=s3cr3t"
    row.request = {**row.request, "media": [{"url": secret, "type": "video"}],
                   "options": {"source": "FILE_UPLOAD"}}
    with pytest.raises(StoredRequestRefused) as info:
        load_request(row, adapter_for, NOW)
    assert "s3cr3t" not in str(info.value.as_error())


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)


async def test_the_worker_fails_an_unreadable_row_instead_of_crashing_on_it(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    cal, _ = await seed_calendar(engine, count=3)
    await add_connection(engine, settings, "tiktok")
    await add_connection(engine, settings, "instagram")
    await queue(engine, settings, gateway, cal)
    first, second, third = sorted(await intent_rows(engine), key=lambda r: r.created_at)
    async with engine.begin() as conn:
        await conn.execute(update(intents).where(intents.c.id == first.id)
                           .values(channel="myspace"))
        await conn.execute(update(intents).where(intents.c.id == second.id)
                           .values(request="not a request"))
    worker = make_worker(engine, settings, gateway)
    while await worker.run_once():
        pass
    assert await statuses(engine) == {"failed": 2, "published": 1}
    rows = {r.id: r for r in await intent_rows(engine)}
    assert rows[first.id].error["findings"][0]["code"] == "channel_unknown"
    assert rows[second.id].error["findings"][0]["code"] == "request_missing"
    assert rows[third.id].status == "published"
    sent = [i for a in gateway.adapters.values() for i in a.published]
    assert sent == [str(third.id)]


def test_an_intent_already_sent_is_checked_for_what_the_worker_would_fetch_only(
    adapter_for: Callable[[str], ChannelAdapter],
) -> None:
    """Polling or reconciling sends nothing: a content rule tightened since the send must not
    fail a post the platform may be publishing; an option or a media URL is still refused."""
    row = _row()
    row.request = {**row.request, "caption": "x" * 2201}
    assert _refusal(row, adapter_for) == ["caption_too_long"]
    load_request(row, adapter_for, NOW, sending=False)
    for change in ({"options": {"source": "FILE_UPLOAD"}},
                   {"media": [{"url": "https://10.0.0.7/a.mp4", "type": "video"}]}):
        bad = _row()
        bad.request = {**bad.request, **change}
        with pytest.raises(StoredRequestRefused):
            load_request(bad, adapter_for, NOW, sending=False)
