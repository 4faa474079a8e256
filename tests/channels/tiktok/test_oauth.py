"""TikTok Login Kit: authorize URL, code exchange, refresh with rotation, error shapes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from postplan.channels import AuthError, PermanentError, RetryLater, get_oauth_client
from postplan.channels.base import OAuthClient
from tests.fakes.channels_server import FakeChannelsServer

pytestmark = pytest.mark.live
REDIRECT = "https://app.example/oauth/tiktok/callback"


def client(http: httpx.AsyncClient, fake: FakeChannelsServer, secret: str | None = None
           ) -> OAuthClient:
    cfg = fake.control.config
    return get_oauth_client("tiktok", http=http, api_base=fake.url, auth_base=fake.url,
                            client_id=cfg.client_key, client_secret=secret or cfg.client_secret)


def test_authorize_url(http: httpx.AsyncClient) -> None:
    oauth = get_oauth_client("tiktok", http=http, api_base="https://open.tiktokapis.com",
                             auth_base="https://www.tiktok.com", client_id="ck",
                             client_secret="cs")
    url = oauth.authorize_url("st4te", REDIRECT, code_challenge="chal")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://www.tiktok.com/v2/auth/authorize/")
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {"client_key": "ck", "scope": "user.info.basic,video.publish,video.upload",
                 "response_type": "code", "redirect_uri": REDIRECT, "state": "st4te",
                 "code_challenge": "chal", "code_challenge_method": "S256"}
    assert "cs" not in url


async def test_exchange_then_refresh_rotates(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    ctl = fake_channels.control
    oauth = client(http, fake_channels)
    code = ctl.issue_code("tiktok", "open-abc", ["user.info.basic", "video.publish"])
    tokens = await oauth.exchange_code(code, REDIRECT, code_verifier="v" * 43)
    assert tokens.account_id == "open-abc"
    assert tokens.scopes == ["user.info.basic", "video.publish"]
    assert tokens.expires_in == 7200 and tokens.refresh_expires_in == 180 * 86400
    assert tokens.refresh_token and tokens.access_token.startswith("act.")
    assert tokens.access_token not in repr(tokens)
    with pytest.raises(AuthError) as reused:  # codes are single use
        await oauth.exchange_code(code, REDIRECT)
    assert reused.value.platform_code == "invalid_grant"

    refreshed = await oauth.refresh(tokens.refresh_token)
    assert refreshed.refresh_token and refreshed.refresh_token != tokens.refresh_token
    assert refreshed.access_token != tokens.access_token
    with pytest.raises(AuthError) as old:  # rotation: the old refresh token is dead
        await oauth.refresh(tokens.refresh_token)
    assert tokens.refresh_token not in str(old.value)
    assert (await oauth.refresh(refreshed.refresh_token)).account_id == "open-abc"


async def test_bad_client_secret_is_config_error(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    code = fake_channels.control.issue_code("tiktok", "open-x")
    with pytest.raises(PermanentError) as info:
        await client(http, fake_channels, secret="wrong").exchange_code(code, REDIRECT)
    assert info.value.platform_code == "invalid_client"
    assert "wrong" not in str(info.value)


async def test_transient_failure_is_not_a_dead_token(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    """A 5xx during refresh must not disconnect the user (Postiz PR #1822)."""
    fake_channels.control.fault("/v2/oauth/token/", status=503)
    with pytest.raises(RetryLater):
        await client(http, fake_channels).refresh("rft.whatever-token")


async def test_missing_app_credentials(http: httpx.AsyncClient) -> None:
    oauth = get_oauth_client("tiktok", http=http, api_base="http://127.0.0.1:9",
                             auth_base="http://127.0.0.1:9", client_id=None, client_secret=None)
    with pytest.raises(PermanentError, match="TIKTOK_CLIENT_KEY"):
        await oauth.refresh("rft.x")
