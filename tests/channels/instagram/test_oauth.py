"""Instagram Login: authorize URL, code -> short -> long-lived token, refresh after 24 h."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from postplan.channels import AuthError, PermanentError, get_oauth_client
from postplan.channels.base import OAuthClient
from tests.fakes.channels_server import FakeChannelsServer

pytestmark = pytest.mark.live
REDIRECT = "https://app.example/oauth/instagram/callback"


def client(http: httpx.AsyncClient, fake: FakeChannelsServer) -> OAuthClient:
    cfg = fake.control.config
    return get_oauth_client("instagram", http=http, api_base=fake.url, auth_base=fake.url,
                            client_id=cfg.client_key, client_secret=cfg.client_secret,
                            api_version="v25.0")


def test_authorize_url(http: httpx.AsyncClient) -> None:
    oauth = get_oauth_client("instagram", http=http, api_base="https://graph.instagram.com",
                             auth_base="https://www.instagram.com", client_id="app",
                             client_secret="s3cret")
    parts = urlsplit(oauth.authorize_url("st", REDIRECT))
    assert (parts.netloc, parts.path) == ("www.instagram.com", "/oauth/authorize")
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {"client_id": "app", "redirect_uri": REDIRECT, "response_type": "code",
                 "scope": "instagram_business_basic,instagram_business_content_publish",
                 "state": "st"}


@pytest.mark.parametrize("nested", [True, False])
async def test_exchange_gives_a_long_lived_token(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient, nested: bool
) -> None:
    ctl = fake_channels.control
    ctl.config.ig_nested_code_response = nested
    code = ctl.issue_code("instagram", "17841400000000099")
    tokens = await client(http, fake_channels).exchange_code(code + "#_", REDIRECT)
    assert tokens.account_id == "17841400000000099"
    assert tokens.expires_in == 5183944 and tokens.refresh_token is None
    assert tokens.scopes == ["instagram_business_basic", "instagram_business_content_publish"]
    assert ctl.tokens[tokens.access_token].kind == "access"  # the long-lived one is stored


async def test_used_code_is_auth_error(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    code = fake_channels.control.issue_code("instagram", "1784")
    oauth = client(http, fake_channels)
    await oauth.exchange_code(code, REDIRECT)
    with pytest.raises(AuthError) as info:
        await oauth.exchange_code(code, REDIRECT)
    assert info.value.platform_code == "OAuthException"


async def test_refresh_needs_a_day_old_token(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    ctl = fake_channels.control
    acct = ctl.add_account("instagram", ttl=60 * 86400)
    oauth = client(http, fake_channels)
    with pytest.raises(PermanentError) as young:
        await oauth.refresh(acct.token)
    assert "24 hours" in young.value.message
    assert acct.token not in str(young.value)
    ctl.advance(25 * 3600)
    tokens = await oauth.refresh(acct.token)
    assert tokens.access_token != acct.token and tokens.account_id == acct.account_id
    assert tokens.expires_in == 5183944


async def test_refresh_of_expired_token_is_auth_error(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    fake_channels.control.expire(acct.token)
    with pytest.raises(AuthError) as info:
        await client(http, fake_channels).refresh(acct.token)
    assert info.value.platform_code == "190/463"
    assert acct.token not in str(info.value) and acct.token not in repr(info.value)
