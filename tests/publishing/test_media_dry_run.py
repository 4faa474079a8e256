"""The dry run checks the files an entry carries, not only that it carries some: a passing dry
run means the platform will take them; each way a stored file can fail has its own finding."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from postplan.channels.base import MediaRef, PermanentError, PublishRequest
from postplan.config import Settings
from postplan.core.vocab import Channel, EntryFormat
from postplan.models import Media
from postplan.publishing.media import bind_stored_media
from tests.fixtures.apps import build_app, in_process_client
from tests.publishing.conftest import seed_calendar
from tests.publishing.media_seed import seed_media

SHORT = {"ok": False, "findings": [{"code": "video_too_short",
                                    "message": "Instagram reels are at least 3 s long."}]}


async def test_dry_run_reports_each_stored_media_problem(
    settings_factory: Callable[..., Settings], engine: Any, tmp_path: Path,
) -> None:
    # The row left `processing` is this test's: the app's own job must not finish it first.
    settings = settings_factory(MEDIA_DIR=str(tmp_path / "media"),
                                PUBLIC_BASE_URL="https://media.brand.example",
                                MEDIA_PROCESSING_ENABLED=False)
    video = await seed_media(engine, settings)
    photo = await seed_media(engine, settings, kind="image", content_type="image/png",
                             derived={"instagram-jpeg": b"\xff\xd8jpeg"},
                             checks={"instagram:image": {"ok": True, "findings": [],
                                                         "derived": "instagram-jpeg"}})
    short = await seed_media(engine, settings, checks={"instagram:reel": SHORT})
    busy = await seed_media(engine, settings, status="processing", checks={})
    broken = await seed_media(engine, settings, status="rejected", checks={},
                              error={"code": "media_corrupt", "message": "moov atom missing"})
    theirs = await seed_media(engine, settings, user_id="mallory")

    def stored(*ids: uuid.UUID) -> list[dict[str, str]]:
        return [{"mediaId": str(i)} for i in ids]

    cal, ids = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video", "media": stored(video)},
        {"channel": "instagram", "format": "image", "media": stored(photo)},
        {"channel": "tiktok", "format": "video", "media": stored(photo)},
        {"channel": "instagram", "format": "reel", "media": stored(short)},
        {"channel": "tiktok", "format": "video", "media": stored(busy)},
        {"channel": "instagram", "format": "image", "media": stored(broken)},
        {"channel": "tiktok", "format": "video", "media": stored(theirs)},
    ])
    async with in_process_client(build_app(settings)) as client:
        resp = await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})
        # The preview shows the stored files a publish would send, and their findings.
        views = [(await client.get(f"/v1/calendars/{cal}/entries/{ids[n]}/preview")).json()
                 ["channels"][0] for n in (0, 3)]
    assert resp.status_code == 207, resp.text
    assert [m["media_id"] for m in views[0]["media"]] == [str(video)], views[0]
    assert views[0]["ok"] is True, views[0]["findings"]
    assert [m["media_id"] for m in views[1]["media"]] == [str(short)], views[1]
    assert [f["code"] for f in views[1]["findings"]] == ["video_too_short"]
    results = {r["entryId"]: r for r in resp.json()["results"]}
    codes = [(results[str(i)]["error"] or {}).get("code") for i in ids]
    assert codes == [None, None, "media_type_invalid", "video_too_short", "media_not_ready",
                     "media_rejected", "media_not_found"]
    assert "moov atom missing" in results[str(ids[5])]["error"]["message"]
    assert results[str(ids[3])]["error"]["findings"][0]["field"] == "media[0]"

    # TikTok gets the stored video's bytes by FILE_UPLOAD, its size known up front.
    tiktok = results[str(ids[0])]["payload"]["requests"]
    init = next(r for r in tiktok if r["url"].endswith("/video/init/"))
    assert init["body"]["source_info"] == {"source": "FILE_UPLOAD", "video_size": 2048,
                                           "chunk_size": 2048, "total_chunk_count": 1}
    # Instagram pulls the derived JPEG from a signed URL under PUBLIC_BASE_URL.
    container = results[str(ids[1])]["payload"]["requests"][1]["body"]
    pulled = urlsplit(container["image_url"])
    assert f"{pulled.scheme}://{pulled.netloc}" == "https://media.brand.example"
    assert pulled.path == f"/v1/media/{photo}/content"
    query = parse_qs(pulled.query)
    assert query["role"] == ["instagram-jpeg"] and query["sig"] and query["exp"]
    # Another user's file is never named in what would be sent.
    assert str(theirs) not in str(results[str(ids[6])]["payload"])


async def test_worker_binds_stored_files_as_the_intents_user_only(
    settings_factory: Callable[..., Settings], engine: Any, tmp_path: Path,
) -> None:
    settings = settings_factory(MEDIA_DIR=str(tmp_path / "media"))
    data = bytes(range(256)) * 8
    mine = await seed_media(engine, settings, data=data)
    theirs = await seed_media(engine, settings, user_id="mallory")

    def request(media_id: uuid.UUID) -> PublishRequest:
        ref = MediaRef(url="https://stale.example/x", type="video", media_id=str(media_id))
        return PublishRequest(intent_id="i", channel=Channel.tiktok, format=EntryFormat.video,
                              caption="c", media=[ref], account_id="a",
                              scheduled_at=dt.datetime.now(dt.UTC))

    bound = await bind_stored_media(engine, settings, "local", request(mine))
    (ref,) = bound.media
    assert ref.size == len(data) and f"/v1/media/{mine}/content?" in ref.url  # signed afresh
    async with bound.open_media(ref) as source:
        assert source.size == len(data) and await source.read(len(data)) == data
    for other in (theirs, uuid.uuid4()):
        with pytest.raises(PermanentError) as info:
            await bind_stored_media(engine, settings, "local", request(other))
        assert info.value.code == "media_not_found"


async def test_a_dry_run_after_processing_finishes_is_a_new_verdict(
    settings_factory: Callable[..., Settings], engine: Any, tmp_path: Path,
) -> None:
    # The test plays the processing job itself: the app's own job must not race it to the row.
    settings = settings_factory(MEDIA_DIR=str(tmp_path / "media"), MEDIA_PROCESSING_ENABLED=False)
    busy = await seed_media(engine, settings, status="processing", checks={})
    cal, _ = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video", "media": [{"mediaId": str(busy)}]}])
    async with in_process_client(build_app(settings)) as client:
        first = (await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})).json()
        assert first["results"][0]["error"]["code"] == "media_not_ready"
        async with engine.begin() as conn:  # the processing job's verdict
            await conn.execute(update(Media).where(Media.id == busy).values(
                status="ready", checks={"tiktok:video": {"ok": True, "findings": []}},
                updated_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)))
        second = (await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})).json()
        assert second["results"][0]["error"] is None
        assert second["results"][0]["intentId"] != first["results"][0]["intentId"]
        stored = await client.get(f"/v1/publish-intents/{second['results'][0]['intentId']}")
        assert stored.status_code == 200 and stored.json()["error"] is None
        again = (await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})).json()
        assert again["results"][0]["intentId"] == second["results"][0]["intentId"]
