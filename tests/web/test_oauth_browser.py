"""A channel connect in headless Chromium: the browser-binding cookie set by a same-origin
`fetch()` of `oauth/start` survives the cross-site round trip through the platform's consent page
(SameSite=Lax on a top-level redirect), and another browser cannot finish the login.

The consent page is a stand-in served on `localhost` (a different site from the API on
`127.0.0.1`), issuing codes from the fake TikTok that the real OAuth client then redeems.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from postplan.config import Settings
from tests.fakes.channels_server import FakeChannelsServer, fake_channels_server
from tests.fixtures.apps import LiveServer, build_app, free_port, live_server
from tests.publishing.fake_gateway import fake_env

__all__ = ["fake_channels_server"]

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]

# What a page does to connect a channel: a same-origin fetch (cookies are kept by default),
# then a top-level navigation to the platform.
START_JS = """async (user) => {
  const res = await fetch('/v1/channels/tiktok/oauth/start', {headers: {'X-User-Id': user}});
  return (await res.json()).authorizeUrl;
}"""


def consent_app(fake: FakeChannelsServer, account_id: str) -> FastAPI:
    """TikTok's consent page as the browser sees it: the user approves, back to redirect_uri."""
    app = FastAPI()

    @app.get("/v2/auth/authorize/")
    async def authorize(request: Request) -> RedirectResponse:
        q = request.query_params
        code = fake.control.issue_code("tiktok", account_id)
        query = urllib.parse.urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=302)

    return app


def test_connect_in_the_browser_is_bound_to_that_browser(
    settings_factory: Callable[..., Settings], fake_channels_server: FakeChannelsServer,
) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is required under CI=true")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright import sync_api

    fake = fake_channels_server
    fake.control.reset()
    account = fake.control.add_account("tiktok").account_id
    port = free_port()
    with live_server(consent_app(fake, account)) as consent:
        settings = settings_factory(**{**fake_env(fake.url),
                                       "TIKTOK_AUTH_BASE": f"http://localhost:{consent.port}",
                                       "OAUTH_REDIRECT_BASE": f"http://127.0.0.1:{port}"})
        server = LiveServer(build_app(settings), port=port)
        server.start()
        try:
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    _flows(browser, server, account)
                finally:
                    browser.close()
        finally:
            server.stop()
            fake.control.reset()


def _flows(browser: Any, server: LiveServer, account: str) -> None:
    def connection(user: str) -> httpx.Response:
        return httpx.get(f"{server.url}/v1/channels/tiktok/connection",
                         headers={"X-User-Id": user}, timeout=10)

    # The attacker's browser starts a login and keeps the authorize URL.
    attacker = browser.new_context()
    a_page = attacker.new_page()
    a_page.goto(server.url + "/healthz")
    lure = a_page.evaluate(START_JS, "mallory")
    assert [c["name"] for c in attacker.cookies()] == ["postplan_oauth_binding"]

    # The victim opens it in their own browser and approves with their account: refused.
    victim = browser.new_context()
    v_page = victim.new_page()
    response = v_page.goto(lure)
    assert response is not None and response.status == 403
    assert json.loads(v_page.inner_text("body"))["code"] == "oauth_state_mismatch"
    assert connection("mallory").status_code == 404

    # The victim's own connect, in the victim's browser, goes through the same consent page.
    v_page.goto(server.url + "/healthz")
    mine = v_page.evaluate(START_JS, "victim")
    response = v_page.goto(mine)
    assert response is not None and response.status == 200, v_page.inner_text("body")
    assert json.loads(v_page.inner_text("body"))["accountId"] == account
    assert v_page.url.startswith(server.url + "/v1/channels/tiktok/oauth/callback?")
    assert connection("victim").json()["accountId"] == account
    assert connection("mallory").status_code == 404
    attacker.close()
    victim.close()
