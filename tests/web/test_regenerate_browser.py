"""The page's regenerate buttons in headless Chromium against the real app on loopback:
"New copy for this post" (editor) and "New copy for unedited" (calendar toolbar). (Their
labels avoid the word "Generate": the page's tests find the Generate button by that name.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from tests.fixtures.apps import LiveServer, build_app, live_server
from tests.web.test_browser import browser, entries_of, fill_brief, open_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]
__all__ = ["browser"]  # the fixture, imported so pytest finds it here
USER = "regen-user"


def _wait_versions(server: LiveServer, calendar_id: str,
                   done: Callable[[dict[str, dict[str, Any]]], bool]) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        entries = {e["id"]: e for e in entries_of(server, calendar_id, USER)}
        if done(entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_regenerate_this_post_and_regenerate_unedited(
    settings_factory: Callable[..., Settings], browser: Any,
) -> None:
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, SSE_PING_SECONDS=0.5)
    with live_server(build_app(settings)) as server:
        context, page, _requests, errors = open_page(browser, server, user=USER)
        fill_brief(page, days=7)
        page.get_by_role("button", name="Generate", exact=True).click()
        page.wait_for_selector("#run-status[data-status='completed']", timeout=30_000)
        calendars = httpx.get(f"{server.url}/v1/calendars", headers={"X-User-Id": USER},
                              timeout=10).json()["items"]
        cid = calendars[0]["id"]
        before = {e["id"]: e for e in entries_of(server, cid, USER)}
        first = page.locator("#grid [data-entry-id]").first
        first_id = first.get_attribute("data-entry-id")
        assert first_id in before

        first.click()
        page.get_by_role("button", name="New copy for this post", exact=True).click()
        after = _wait_versions(server, cid, lambda es: es[first_id]["version"] == 2)
        assert after[first_id]["version"] == 2
        assert all(after[i]["version"] == 1 for i in before if i != first_id)
        page.wait_for_selector("#run-status[data-status='completed']", timeout=30_000)
        new_hook = after[first_id]["hook"]
        assert new_hook != before[first_id]["hook"]
        page.wait_for_function(
            "([id, hook]) => document.querySelector(`[data-entry-id=\"${id}\"]`)"
            ".textContent.includes(hook)", arg=[first_id, new_hook], timeout=10_000)

        page.get_by_role("button", name="New copy for unedited", exact=True).click()
        final = _wait_versions(server, cid, lambda es: all(
            e["version"] >= 2 for i, e in es.items() if i != first_id)
            and es[first_id]["version"] == 3)
        assert set(final) == set(before)  # rewritten in place, none added
        assert all(e["version"] >= 2 for e in final.values())
        page.wait_for_selector("#run-status[data-status='completed']", timeout=30_000)
        shot(page, "40-regenerated")
        assert page.locator("#grid [data-entry-id]").count() == len(before)
        assert not errors, errors
        context.close()
