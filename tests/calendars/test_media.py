"""Entries carry uploaded media by id: PATCH checks ownership, reads describe each file, and the
exports carry the ids (and an import refuses ids that are not the user's)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from postplan.core.db import create_engine
from tests.exports.parsing import validate_json_export
from tests.fixtures.apps import build_app, in_process_client
from tests.publishing.conftest import seed_calendar
from tests.publishing.media_seed import seed_media

pytestmark = pytest.mark.timeout(60)

FAIL = {"ok": False, "findings": [{"code": "video_too_short", "message": "Reels are 3 s+"}]}


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def settings(settings_factory: Any, tmp_path: Path) -> Settings:
    return settings_factory(MEDIA_DIR=str(tmp_path / "media"), PUBLISH_SERVICE_ENABLED=True)  # type: ignore[no-any-return]


async def test_patch_attaches_own_media_and_reads_describe_it(
    engine: AsyncEngine, settings: Settings
) -> None:
    cal, (tt, ig) = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video", "media": []},
        {"channel": "instagram", "format": "reel", "media": []},
    ])
    video = await seed_media(engine, settings, derived={"thumbnail": b"\xff\xd8jpeg"},
                             checks={"tiktok:video": {"ok": True, "findings": []},
                                     "instagram:reel": FAIL})
    pending = await seed_media(engine, settings, status="processing", checks={})
    theirs = await seed_media(engine, settings, user_id="mallory")
    async with in_process_client(build_app(settings)) as client:
        url = f"/v1/calendars/{cal}/entries/{tt}"
        resp = await client.patch(url, json={"media": [{"mediaId": str(video)},
                                                       {"mediaId": str(pending)}]})
        assert resp.status_code == 200, resp.text
        first, second = resp.json()["media"]
        assert first["mediaId"] == str(video) and first["kind"] == "video"
        assert first["status"] == "ready" and first["check"] == {"ok": True, "findings": []}
        assert "role=thumbnail" in first["thumbnailUrl"] and "sig=" in first["thumbnailUrl"]
        assert second["status"] == "processing" and second["thumbnailUrl"] is None

        # What a read returns may be sent back as it is: the descriptions are dropped.
        again = await client.patch(url, json={"media": resp.json()["media"][:1]})
        assert again.status_code == 200, again.text
        assert [m["mediaId"] for m in again.json()["media"]] == [str(video)]

        for bad in (theirs, uuid.uuid4()):
            refused = await client.patch(url, json={"media": [{"mediaId": str(bad)}]})
            assert refused.status_code == 404, refused.text
            assert refused.json()["code"] == "media_not_found"
            assert refused.headers["content-type"].startswith("application/problem+json")
        malformed = await client.patch(url, json={"media": [{"mediaId": "nope"}]})
        assert malformed.status_code == 422

        hosted = await client.patch(f"/v1/calendars/{cal}/entries/{ig}", json={"media": [
            {"mediaId": str(video)}, {"url": "https://cdn.example.com/a.jpg", "type": "image"}]})
        assert hosted.status_code == 200, hosted.text
        read = (await client.get(f"/v1/calendars/{cal}")).json()
        by_id = {e["id"]: e for e in read["entries"]}
        assert by_id[str(ig)]["media"][0]["check"] == FAIL  # the reel's own verdict
        assert by_id[str(ig)]["media"][1] == {"url": "https://cdn.example.com/a.jpg",
                                              "type": "image"}
        listed = (await client.get(f"/v1/calendars/{cal}/entries")).json()["items"]

        def unsigned(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            # A signed URL may move on to the next minute's expiry between two reads.
            return [{k: v for k, v in m.items() if k != "thumbnailUrl"} for m in items]

        assert {e["id"]: unsigned(e["media"]) for e in listed} == {
            k: unsigned(v["media"]) for k, v in by_id.items()}

        export = f"/v1/calendars/{cal}/export"
        exported = await client.post(export, json={"format": "json", "dryRun": False})
        validate_json_export(exported.content)  # the published schema takes {mediaId} items
        entries = {e["id"]: e for e in exported.json()["entries"]}
        assert entries[str(ig)]["media"] == [
            {"mediaId": str(video)}, {"url": "https://cdn.example.com/a.jpg", "type": "image"}]
        csv = (await client.post(export, json={"format": "csv", "dryRun": False})).text
        assert json.dumps([{"mediaId": str(video)}], separators=(",", ":")).replace(
            '"', '""') in csv
        ics = (await client.post(export, json={"format": "ics", "dryRun": False})).text
        assert f"X-POSTPLAN-MEDIA-ID:{video}" in ics

        # The JSON export imports back; as another user its media ids are refused per row.
        body = exported.content
        same = await client.post("/v1/calendars/import", content=body,
                                 headers={"content-type": "application/json"})
        assert same.status_code in (200, 201), same.text
        other = await client.post("/v1/calendars/import", content=body,
                                  headers={"content-type": "application/json",
                                           "X-User-Id": "mallory"})
        assert other.status_code in (200, 201, 422), other.text
        errors = other.json().get("errors") or []
        assert any(e["field"] == "media" and str(video) in e["message"] for e in errors)
