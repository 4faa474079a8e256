"""An OAuth login finishes only in the browser that started it (login CSRF, issue 12 item 5).

Real uvicorn, the real TikTok/Instagram OAuth clients against the fake platform on loopback; each
browser is an httpx client with its own cookie jar. The fake has no consent page: consenting is
`issue_code` for the account that logs in, and the browser then follows the platform's redirect
to the callback with that code and the state of the authorize URL it was given.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from postplan.config import Settings
from postplan.publishing.connections.oauth_binding import COOKIE
from postplan.publishing.tables import connections as conn_t
from postplan.publishing.tables import oauth_states
from tests.fakes.channels_server import FakeChannelsServer, fake_channels, fake_channels_server
from tests.fixtures.apps import LiveServer, build_app, free_port, in_process_client
from tests.publishing.conftest import APP_CREDS
from tests.publishing.fake_gateway import fake_env

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = pytest.mark.live


def _state_of(start: httpx.Response) -> tuple[str, str]:
    """(state, redirect_uri) from a start answer's authorize URL."""
    assert start.status_code == 200, start.text
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(start.json()["authorizeUrl"]).query)
    return query["state"][0], query["redirect_uri"][0]


async def _finish(browser: httpx.AsyncClient, fake: FakeChannelsServer, channel: str,
                  account_id: str, state: str, redirect_uri: str) -> httpx.Response:
    """The platform's consent for `account_id`, then its redirect followed by `browser`."""
    code = fake.control.issue_code(channel, account_id)
    return await browser.get(redirect_uri, params={"code": code, "state": state})


async def _connection(client: httpx.AsyncClient, user: str, channel: str) -> httpx.Response:
    return await client.get(f"/v1/channels/{channel}/connection", headers={"X-User-Id": user})


@pytest.mark.parametrize("channel", ["tiktok", "instagram"])
async def test_a_login_started_by_one_browser_cannot_be_finished_by_another(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    channel: str,
) -> None:
    fake = fake_channels
    victim_account = fake.control.add_account(channel).account_id
    port = free_port()
    settings = settings_factory(**fake_env(fake.url),
                                OAUTH_REDIRECT_BASE=f"http://127.0.0.1:{port}")
    server = LiveServer(build_app(settings), port=port)
    server.start()
    try:
        base = server.url
        async with httpx.AsyncClient(base_url=base, timeout=30) as attacker, \
                httpx.AsyncClient(base_url=base, timeout=30) as victim, \
                httpx.AsyncClient(base_url=base, timeout=30) as stranger:
            # The attacker starts a login as themself and hands the authorize link to the victim.
            a_state, a_redirect = _state_of(await attacker.get(
                f"/v1/channels/{channel}/oauth/start", headers={"X-User-Id": "mallory"}))
            # The victim's browser has a binding cookie of its own (its own login, started
            # earlier), just not the one the attacker's state is bound to.
            v_state, v_redirect = _state_of(await victim.get(
                f"/v1/channels/{channel}/oauth/start", headers={"X-User-Id": "victim"}))
            assert victim.cookies.get(COOKIE) != attacker.cookies.get(COOKIE)

            # The victim consents with their account on the attacker's link: refused.
            hijack = await _finish(victim, fake, channel, victim_account, a_state, a_redirect)
            assert hijack.status_code == 403, hijack.text
            assert hijack.headers["content-type"].startswith("application/problem+json")
            assert hijack.json()["code"] == "oauth_state_mismatch"
            # A browser with no cookie at all is refused the same way.
            s_state, s_redirect = _state_of(await attacker.get(
                f"/v1/channels/{channel}/oauth/start", headers={"X-User-Id": "mallory"}))
            bare = await _finish(stranger, fake, channel, victim_account, s_state, s_redirect)
            assert bare.status_code == 403 and bare.json()["code"] == "oauth_state_mismatch"
            # The refused state is spent: not even the attacker's own browser can finish it now
            # (with a code that leaked from the victim's redirect, say).
            leaked = await _finish(attacker, fake, channel, victim_account, a_state, a_redirect)
            assert leaked.status_code == 400 and leaked.json()["code"] == "oauth_state_invalid"
            for user in ("mallory", "victim"):
                assert (await _connection(victim, user, channel)).status_code == 404, user

            # The victim's own login, finished in the victim's browser, connects the victim.
            done = await _finish(victim, fake, channel, victim_account, v_state, v_redirect)
            assert done.status_code == 200, done.text
            assert done.json()["accountId"] == victim_account and done.json()["connected"]
            # Replaying the state, even from the right browser, is refused.
            replay = await _finish(victim, fake, channel, victim_account, v_state, v_redirect)
            assert replay.status_code == 400 and replay.json()["code"] == "oauth_state_invalid"
            assert (await _connection(victim, "victim", channel)).json()["accountId"] == \
                victim_account
            assert (await _connection(victim, "mallory", channel)).status_code == 404
    finally:
        server.stop()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(conn_t.c.user_id, conn_t.c.account_id))).all()
        bindings = (await conn.execute(select(oauth_states.c.browser_binding_hash))).scalars()
        stored = list(bindings)
    assert [(r.user_id, r.account_id) for r in rows] == [("victim", victim_account)]
    # Only hashes are stored: no cookie value is in the database.
    assert len(stored) == 3 and all(h and len(h) == 64 for h in stored)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("redirect_base", "secure", "path"), [
    ("http://127.0.0.1:8000", False, "/v1/channels/tiktok/oauth"),
    ("https://postplan.example/api", True, "/api/v1/channels/tiktok/oauth"),
])
async def test_the_binding_cookie(
    settings_factory: Callable[..., Settings], redirect_base: str, secure: bool, path: str,
) -> None:
    settings = settings_factory(**APP_CREDS, OAUTH_REDIRECT_BASE=redirect_base)
    async with in_process_client(build_app(settings)) as client:
        for redirect in (False, True):
            res = await client.get("/v1/channels/tiktok/oauth/start",
                                   params={"redirect": str(redirect).lower()})
            assert res.status_code == (302 if redirect else 200)
            assert res.headers["cache-control"] == "no-store"
            cookie = SimpleCookie(res.headers["set-cookie"])[COOKIE]
            assert cookie["httponly"] is True
            assert cookie["samesite"].lower() == "lax"
            assert cookie["path"] == path
            assert cookie["max-age"] == "600"
            assert bool(cookie["secure"]) is secure
            assert len(cookie.value) == 43
