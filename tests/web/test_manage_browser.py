"""The page's management tools in headless Chromium (issue 15): drag an entry to another day
(with the 412 conflict flow), add / duplicate / delete an entry, and cancel a queued publish
and settle an `unknown` one from the intents list, its notification listed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from postplan.config import Settings
from postplan.core.db import create_engine
from postplan.publishing.tables import intents
from tests.fixtures.apps import build_app, live_server
from tests.publishing.conftest import APP_CREDS, StubGateway, seed_calendar
from tests.web.test_browser import browser, open_page, shot

__all__ = ["browser"]

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(120)]

USER = "manage-user"


def _run(coro: Any) -> Any:
    """Run a coroutine on a thread of its own (Playwright's sync API holds this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _seed(db_url: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    engine = create_engine(db_url)
    try:
        return await seed_calendar(engine, USER, count=3)
    finally:
        await engine.dispose()


async def _set_unknown(db_url: str, intent_id: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(intents).where(intents.c.id == uuid.UUID(intent_id))
                               .values(status="unknown"))
    finally:
        await engine.dispose()


def test_drag_add_duplicate_delete_cancel_and_resolve(
    settings_factory: Callable[..., Settings], db_url: str, browser: Any,
) -> None:
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    cal, entries = _run(_seed(db_url))
    app = build_app(settings)  # no worker: queued intents stay pending
    app.state.channel_gateway = StubGateway()
    headers = {"X-User-Id": USER}
    with live_server(app) as server:
        api = httpx.Client(base_url=server.url, headers=headers, timeout=10)
        for channel in ("tiktok", "instagram"):
            api.put(f"/v1/channels/{channel}/connection",
                    json={"accessToken": f"act.{channel}.tok", "accountId": f"{channel}-1"}
                    ).raise_for_status()
        context, page, _requests, errors = open_page(browser, server, user=USER)
        page.locator(f"#calendars button[data-calendar-id='{cal}']").click()
        first = page.locator(f"#grid [data-entry-id='{entries[0]}']")
        first.wait_for()

        # Drag the first entry to another day of the drawn week.
        day = first.evaluate("n => n.closest('.day').dataset.date")
        target = page.locator(f"#grid .day[data-date]:not([data-date='{day}'])").first
        target_day = target.get_attribute("data-date")
        first.drag_to(target)
        page.locator(f"#grid .day[data-date='{target_day}'] [data-entry-id='{entries[0]}']"
                     ).wait_for()
        moved = api.get(f"/v1/calendars/{cal}/entries").json()["items"]
        moved_entry = next(e for e in moved if e["id"] == str(entries[0]))
        assert moved_entry["scheduledAt"].startswith(target_day) and moved_entry["version"] == 2

        # A move across a DST change keeps the wall-clock time (the zone's offset on the new
        # day), computed by the page itself.
        moves = page.evaluate("""async () => {
          const { movedTo } = await import('/static/manage.js');
          return [movedTo('2026-03-27T10:00:00+01:00', '2026-03-30', 'Europe/Berlin'),
                  movedTo('2026-10-30T18:30:00+02:00', '2026-11-02', 'Europe/Berlin'),
                  movedTo('2026-03-06T09:15:00-05:00', '2026-03-09', 'America/New_York'),
                  movedTo('2026-03-06T09:15:00+05:30', '2026-03-09', 'Asia/Kolkata'),
                  movedTo('2026-03-06T09:15:00+01:00', '2026-03-09', 'Not/AZone')];
        }""")
        assert moves == ["2026-03-30T10:00:00+02:00", "2026-11-02T18:30:00+01:00",
                         "2026-03-09T09:15:00-04:00", "2026-03-09T09:15:00+05:30",
                         "2026-03-09T09:15:00+01:00"]

        # Someone else edits the second entry; dragging the stale copy shows the conflict and
        # reloads, and nothing is moved.
        second = page.locator(f"#grid [data-entry-id='{entries[1]}']")
        api.patch(f"/v1/calendars/{cal}/entries/{entries[1]}",
                  json={"hook": "Changed elsewhere"}).raise_for_status()
        second.drag_to(page.locator(f"#grid .day[data-date='{target_day}']"))
        page.wait_for_selector("#error:not([hidden])")
        assert "changed elsewhere" in page.locator("#error").inner_text()
        page.locator(f"#grid [data-entry-id='{entries[1]}']",
                     has_text="Changed elsewhere").wait_for()
        kept = api.get(f"/v1/calendars/{cal}/entries").json()["items"]
        assert next(e for e in kept if e["id"] == str(entries[1]))["version"] == 2
        page.locator("#error-close").click()

        # Add an entry by hand, duplicate it to Instagram, delete the copy.
        page.get_by_label("Channel", exact=True).select_option("tiktok")
        page.locator("#add-when").fill(f"{target_day}T15:30")
        page.get_by_label("Opening line").fill("Added in the page")
        page.locator("#entry-add").click()
        page.wait_for_function("() => /Added TikTok/.test("
                               "document.getElementById('manage-status').textContent)")
        items = api.get(f"/v1/calendars/{cal}/entries").json()["items"]
        added = next(e for e in items if e["hook"] == "Added in the page")
        page.locator("#entry-pick").select_option(added["id"])
        page.locator("#dup-channel").select_option("instagram")
        page.locator("#entry-duplicate").click()
        page.wait_for_function("() => /Duplicated to Instagram reel/.test("
                               "document.getElementById('manage-status').textContent)")
        items = api.get(f"/v1/calendars/{cal}/entries").json()["items"]
        assert len(items) == 5
        copy = next(e for e in items if e["hook"] == "Added in the page"
                    and e["channel"] == "instagram")
        page.locator("#entry-pick").select_option(copy["id"])
        page.once("dialog", lambda d: d.accept())
        page.locator("#entry-delete").click()
        page.locator(f"#grid [data-entry-id='{copy['id']}']").wait_for(state="detached")
        assert len(api.get(f"/v1/calendars/{cal}/entries").json()["items"]) == 4

        # Queue a live publish of the seeded entries; cancel one from the intents list.
        queued = api.post(f"/v1/calendars/{cal}/publish", json={
            "dryRun": False, "when": "scheduled", "entryIds": [str(e) for e in entries]})
        assert queued.json()["summary"]["queued"] == 3, queued.text
        ids = [r["intentId"] for r in queued.json()["results"]]
        page.locator("#intents-refresh").click()
        row = page.locator(f"#intents-rows tr[data-intent-id='{ids[0]}']")
        row.get_by_role("button", name="Cancel", exact=True).click()
        page.locator(f"#intents-rows tr[data-intent-id='{ids[0]}'][data-status='cancelled']"
                     ).wait_for()
        assert api.get(f"/v1/publish-intents/{ids[0]}").json()["status"] == "cancelled"

        # An unknown intent settled as not published: its notification is listed.
        _run(_set_unknown(db_url, ids[1]))
        page.locator("#intents-refresh").click()
        unknown = page.locator(
            f"#intents-rows tr[data-intent-id='{ids[1]}'][data-status='unknown']")
        unknown.get_by_role("button", name="It was not published", exact=True).click()
        page.locator(f"#intents-rows tr[data-intent-id='{ids[1]}'][data-status='failed']"
                     ).get_by_role("button", name="Retry", exact=True).wait_for()
        page.locator("#notifications li[data-event='intent.failed']").wait_for()
        shot(page, "16-manage")
        assert not errors, errors
        context.close()
        api.close()
