"""The media library on the page, in headless Chromium against the real app (issue 14): upload a
real clip (ffmpeg) and photo (Pillow) with a progress bar, attach them to entries by dropping
and from the editor's picker, see thumbnails and a passing dry run; attach a clip too short for
a reel and see the finding that blocks it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from postplan.core.db import create_engine
from tests.fixtures.apps import LiveServer, build_app, free_port
from tests.publishing.conftest import seed_calendar
from tests.publishing.media_files import clip, image
from tests.web.test_browser import browser, open_page, shot

__all__ = ["browser"]

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]

USER = "media-browser"

# Every text the upload status line shows, to see the progress percentages go by.
STATUS_LOG_JS = """() => {
  window.__mediaStatus = [];
  const node = document.getElementById('media-status');
  new MutationObserver(() => window.__mediaStatus.push(node.textContent))
    .observe(node, {childList: true, characterData: true, subtree: true});
}"""

# A drop on an entry, as the browser delivers it: a library item by id, or files.
DROP_ID_JS = """(id) => { const dt = new DataTransfer();
  dt.setData('application/x-postplan-media', id); return dt; }"""
DROP_FILE_JS = """([name, type, b64]) => { const dt = new DataTransfer();
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  dt.items.add(new File([bytes], name, {type})); return dt; }"""


async def _seed(db_url: str) -> tuple[str, list[str]]:
    engine = create_engine(db_url)
    try:
        cal, ids = await seed_calendar(engine, USER, entries=[
            {"channel": "tiktok", "format": "video", "media": [], "hook": "tt video"},
            {"channel": "instagram", "format": "image", "media": [], "hook": "ig image"},
            {"channel": "instagram", "format": "reel", "media": [], "hook": "ig reel"},
        ])
    finally:
        await engine.dispose()
    return str(cal), [str(i) for i in ids]


@pytest.fixture
def seeded(settings_factory: Callable[..., Settings], db_url: str, tmp_path: Path
           ) -> tuple[Settings, int, str, list[str]]:
    """Settings (they migrate the database) and the calendar, made before Playwright's sync
    API owns this thread's event loop (so `browser` comes after this in the test's arguments)."""
    port = free_port()
    settings = settings_factory(MEDIA_DIR=str(tmp_path / "media"), MEDIA_POLL_SECONDS=0.2,
                                PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    cal, ids = asyncio.run(_seed(db_url))
    return settings, port, cal, ids


@pytest.mark.timeout(180)
def test_upload_attach_and_dry_run_in_the_page(
    seeded: tuple[Settings, int, str, list[str]], tmp_path: Path, browser: Any,
) -> None:
    settings, port, cal, (tt, ig, reel) = seeded
    video_path, photo_path = tmp_path / "clip.mp4", tmp_path / "photo.jpg"
    video_path.write_bytes(clip())
    photo_path.write_bytes(image("JPEG"))
    server = LiveServer(build_app(settings), port=port)
    server.start()
    try:
        context, page, _requests, errors = open_page(browser, server, user=USER)
        page.locator(f"#calendars button[data-calendar-id='{cal}']").click()
        page.wait_for_selector(f"#grid [data-entry-id='{tt}']")
        for entry in (tt, ig, reel):  # nothing attached yet
            assert page.locator(f"#grid [data-entry-id='{entry}'] .media-state").inner_text() \
                == "needs media"

        # Upload both through the library's file picker, with a progress bar.
        page.evaluate(STATUS_LOG_JS)
        page.set_input_files("#media-file", [str(video_path), str(photo_path)])
        page.wait_for_function(
            "() => document.querySelectorAll('#media-list li[data-status=ready]').length == 2",
            timeout=60_000)
        log: list[str] = page.evaluate("window.__mediaStatus")
        assert any("clip.mp4: 100%" in t for t in log), log
        assert any("Uploaded photo.jpg" in t for t in log), log
        ids = {page.locator(f"#media-list li:has-text('{n}')").get_attribute("data-media-id"): n
               for n in ("clip.mp4", "photo.jpg")}
        by_name = {n: i for i, n in ids.items()}
        assert page.locator("#media-list img.thumb").count() == 2
        shot(page, "20-media-library")

        # Drop the clip from the library onto the TikTok video entry.
        drop = page.evaluate_handle(DROP_ID_JS, by_name["clip.mp4"])
        page.dispatch_event(f"#grid [data-entry-id='{tt}']", "drop", {"dataTransfer": drop})
        tt_state = f"#grid [data-entry-id='{tt}'] .media-state"
        page.wait_for_selector(f"{tt_state}[data-media-state='ok']")
        assert page.locator(f"#grid [data-entry-id='{tt}'] img.thumb").count() == 1

        # Pick the photo in the Instagram image entry's editor.
        page.locator(f"#grid [data-entry-id='{ig}']").click()
        page.select_option("#e-media-pick", by_name["photo.jpg"])
        page.get_by_role("button", name="Attach", exact=True).click()
        page.wait_for_selector(f"#e-media-files li[data-media-id='{by_name['photo.jpg']}']")
        page.get_by_role("button", name="Cancel", exact=True).click()
        page.wait_for_selector(f"#grid [data-entry-id='{ig}'] .media-state[data-media-state='ok']")

        # Drop the same short clip as a file from the desktop onto the reel: uploaded, attached,
        # and too short for a reel (3 s at least) - the entry says why.
        payload = ["short.mp4", "video/mp4", base64.b64encode(clip()).decode()]
        files = page.evaluate_handle(DROP_FILE_JS, payload)
        page.dispatch_event(f"#grid [data-entry-id='{reel}']", "drop", {"dataTransfer": files})
        reel_state = f"#grid [data-entry-id='{reel}'] .media-state"
        page.wait_for_selector(f"{reel_state}[data-media-state='blocked']", timeout=60_000)
        assert "duration_too_short" in page.locator(reel_state).inner_text()
        shot(page, "21-media-attached")

        # The dry run passes for the two good ones and names the reel's finding.
        page.get_by_role("button", name="Dry-run publish", exact=True).click()
        page.wait_for_function("() => !document.getElementById('publish-table').hidden")
        row = "#publish-table tr[data-result-entry-id='{}'] td"
        assert page.locator(row.format(tt)).nth(3).inner_text() == "would publish"
        assert page.locator(row.format(ig)).nth(3).inner_text() == "would publish"
        assert "duration_too_short" in page.locator(row.format(reel)).nth(3).inner_text()
        shot(page, "22-media-dry-run")

        # The reel's cover: the editor offers the library's ready images (not the clips).
        page.locator(f"#grid [data-entry-id='{reel}']").click()
        cover = page.locator("#e-ig-cover")
        offered = cover.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
        assert by_name["photo.jpg"] in offered and by_name["clip.mp4"] not in offered
        cover.select_option(by_name["photo.jpg"])
        page.get_by_role("button", name="Save", exact=True).click()
        page.locator(f"#grid [data-entry-id='{reel}'] .badge.edited").wait_for()
        saved = httpx.get(f"{server.url}/v1/calendars/{cal}/entries/{reel}",
                          headers={"X-User-Id": USER}, timeout=10).json()
        assert saved["channelOptions"] == {"instagram": {"coverMediaId": by_name["photo.jpg"]}}
        preview = httpx.get(f"{server.url}/v1/calendars/{cal}/entries/{reel}/preview",
                            headers={"X-User-Id": USER}, timeout=10).json()["channels"][0]
        assert f"/v1/media/{by_name['photo.jpg']}/content?" in str(preview["payload"])
        assert errors == []
        context.close()
    finally:
        server.stop()
