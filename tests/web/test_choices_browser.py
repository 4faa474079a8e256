"""The entry editor's TikTok posting choices, as TikTok's guidelines require before a live
post, in Chromium against the real server: the creator's nickname, privacy from the offered
levels with no default, interactions greyed out when the creator turned them off, commercial
content disclosure (branded content cannot be private), the music confirmation; saved as the
entry's `channelOptions`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from tests.fixtures.apps import build_app, live_server
from tests.web.test_browser import browser, entries_of, fill_brief, open_page, shot

__all__ = ["browser"]

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]


@pytest.mark.timeout(120)
def test_tiktok_choices_in_the_editor(settings_factory: Callable[..., Settings],
                                      browser: Any) -> None:
    from tests.publishing.conftest import APP_CREDS, StubGateway

    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, PUBLISH_SERVICE_ENABLED=True,
                                **APP_CREDS)
    app = build_app(settings)
    app.state.channel_gateway = StubGateway()
    user = "choices-user"
    with live_server(app) as server:
        res = httpx.put(f"{server.url}/v1/channels/tiktok/connection",
                        json={"accessToken": "act.tiktok.token", "accountId": "tiktok-1"},
                        headers={"X-User-Id": user}, timeout=10)
        assert res.status_code == 200, res.text
        context, page, _requests, errors = open_page(browser, server, user=user)
        fill_brief(page, days=7)
        page.get_by_label("Instagram").uncheck()
        page.get_by_role("button", name="Generate", exact=True).click()
        page.wait_for_selector("#run-status[data-status='completed']", timeout=30_000)

        target = page.locator("#grid [data-entry-id]").first
        target_id = target.get_attribute("data-entry-id")
        target.click()
        page.wait_for_function(
            "() => /Stub Creator/.test(document.getElementById('e-tt-creator').textContent)")
        privacy = page.locator("#e-tt-privacy")
        assert privacy.input_value() == ""  # no default: the person chooses
        assert privacy.locator("option").count() == 5
        assert page.locator("#e-tt-comment").is_disabled()  # turned off by the creator
        assert not page.locator("#e-tt-duet").is_checked()  # off until the person allows it
        page.locator("#e-tt-commercial").check()
        page.locator("#e-tt-branded").check()
        assert privacy.locator("option[value='SELF_ONLY']").is_disabled()
        assert "Branded Content Policy" in page.locator("#e-tt-policy").inner_text()
        page.locator("#e-tt-commercial").uncheck()
        privacy.select_option("SELF_ONLY")
        page.locator("#e-tt-duet").check()
        page.get_by_label("I agree to the Music Usage Confirmation").check()
        shot(page, "15-tiktok-choices", full_page=False)
        page.get_by_role("button", name="Save", exact=True).click()
        page.locator(f"#grid [data-entry-id='{target_id}'] .badge.edited").wait_for()
        cal = httpx.get(f"{server.url}/v1/calendars", headers={"X-User-Id": user},
                        timeout=10).json()["items"][0]["id"]
        saved = next(e for e in entries_of(server, cal, user) if e["id"] == target_id)
        assert saved["channelOptions"] == {"tiktok": {
            "privacyLevel": "SELF_ONLY", "musicUsageConfirmed": True, "disableComment": True,
            "disableDuet": False, "disableStitch": True}}
        assert not errors, errors
        context.close()
