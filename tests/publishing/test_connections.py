"""Channel connections and OAuth: encrypted at rest, never echoed or logged, single-use state."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from structlog.testing import capture_logs

from postplan.config import Settings
from postplan.publishing.tables import connections as conn_t
from tests.publishing.conftest import APP_CREDS, KEY, connect

SECRET = "act.tiktok.secret-token-value"


async def test_put_get_delete_never_echo_the_token(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings], engine: Any,
) -> None:
    async with publish_client(settings_factory(**APP_CREDS)) as client:
        with capture_logs() as logs:
            put = await connect(client, "tiktok", expiresAt="2030-01-01T00:00:00+01:00")
        assert SECRET not in put.text
        body = put.json()
        assert body["connected"] is True and body["status"] == "active"
        assert body["accountId"] == "local-tiktok"
        assert body["tokenPreview"] == "****alue"
        assert body["expiresAt"] == "2029-12-31T23:00:00+00:00"
        assert SECRET not in repr(logs)
        got = await client.get("/v1/channels/tiktok/connection")
        assert got.status_code == 200 and SECRET not in got.text
        assert (await client.get("/v1/channels/tiktok/connection",
                                 headers={"X-User-Id": "mallory"})).status_code == 404
        assert (await client.get("/v1/channels/myspace/connection")).status_code == 404
        async with engine.connect() as conn:
            row = (await conn.execute(select(conn_t))).one()
        assert SECRET not in row.access_token_enc
        assert "rft.tiktok.refresh" not in (row.refresh_token_enc or "")
        assert (await client.delete("/v1/channels/tiktok/connection")).status_code == 204
        assert (await client.get("/v1/channels/tiktok/connection")).status_code == 404
        assert (await client.delete("/v1/channels/tiktok/connection")).status_code == 404


async def test_put_without_encryption_key_is_a_clear_503(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
) -> None:
    async with publish_client(settings_factory()) as client:
        resp = await client.put("/v1/channels/tiktok/connection",
                                json={"accessToken": SECRET, "accountId": "a"})
        assert resp.status_code == 503
        assert resp.json()["code"] == "token_encryption_key_missing"
        bad = await client.put("/v1/channels/tiktok/connection",
                               json={"accessToken": "", "accountId": "a"})
        assert bad.status_code == 422


async def test_oauth_start_and_callback_store_tokens_once(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
) -> None:
    async with publish_client(settings_factory(**APP_CREDS)) as client:
        start = await client.get("/v1/channels/instagram/oauth/start")
        assert start.status_code == 200, start.text
        url = start.json()["authorizeUrl"]
        query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
        state = query["state"][0]
        assert state == start.json()["state"] and query["cc"][0]  # PKCE challenge sent
        redirect = await client.get("/v1/channels/instagram/oauth/start",
                                    params={"redirect": "true"}, follow_redirects=False)
        assert redirect.status_code == 302
        cb = await client.get("/v1/channels/instagram/oauth/callback",
                              params={"code": "c1", "state": state})
        assert cb.status_code == 200, cb.text
        assert cb.json()["accountId"] == "acct-c1" and cb.json()["connected"] is True
        assert "act.c1.access" not in cb.text
        again = await client.get("/v1/channels/instagram/oauth/callback",
                                 params={"code": "c1", "state": state})
        assert again.status_code == 400 and again.json()["code"] == "oauth_state_invalid"
        forged = await client.get("/v1/channels/instagram/oauth/callback",
                                  params={"code": "c1", "state": "forged"})
        assert forged.status_code == 400
        denied_state = urllib.parse.parse_qs(urllib.parse.urlparse(
            (await client.get("/v1/channels/tiktok/oauth/start")).json()["authorizeUrl"]
        ).query)["state"][0]
        denied = await client.get("/v1/channels/tiktok/oauth/callback",
                                  params={"state": denied_state, "error": "access_denied"})
        assert denied.status_code == 400 and denied.json()["code"] == "oauth_denied"


async def test_oauth_without_app_credentials_is_config_missing(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
) -> None:
    async with publish_client(settings_factory(TOKEN_ENCRYPTION_KEY=KEY)) as client:
        resp = await client.get("/v1/channels/tiktok/oauth/start")
        assert resp.status_code == 422
        assert resp.json()["code"] == "channel_config_missing"
        assert resp.json()["channel"] == "tiktok"
