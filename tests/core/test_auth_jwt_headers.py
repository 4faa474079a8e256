"""AUTH_MODE=supabase: a JWT whose header holds odd values is a 401 problem, never a 500.

A list or object in `alg` used to reach `alg in {...}` (TypeError: unhashable), and one in `kid`
reached the JWKS client's key cache (same): both answered 500. Tokens are built by hand here, so
the header can hold any JSON, and sent through real uvicorn with a JWKS server on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url
from tests.fixtures.factories import seed_calendar

pytestmark = [pytest.mark.timeout(120), pytest.mark.live]

SECRET = "test-secret-that-is-long-enough-for-hs256"
USER = "user-a"

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                               max_size=3),
    max_leaves=6,
)
ODD_HEADERS = st.fixed_dictionaries(
    {"alg": st.one_of(JSON_VALUES, st.sampled_from(["HS256", "RS256", "ES256", "none",
                                                    "HS512", "hs256"]))},
    optional={name: st.one_of(JSON_VALUES, st.text(min_size=300, max_size=400))
              for name in ("kid", "typ", "cty", "crit", "b64", "jku", "x5u", "jwk")},
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed with the right secret, whatever its header says."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def acceptable(header: dict[str, Any]) -> bool:
    """What a correct server accepts: HS256 and short string members where strings belong."""
    if header.get("alg") != "HS256":
        return False
    for name in ("kid", "typ", "cty"):
        value = header.get(name)
        if name in header and (not isinstance(value, str) or len(value) > 256):
            return False
    return header.get("crit") is None and header.get("b64") in (None, True)


@pytest.fixture
def jwks_url() -> Iterator[str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="rsa1", alg="RS256", use="sig")
    app = FastAPI()

    @app.get("/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse({"keys": [jwk]})

    with live_server(app) as server:
        yield f"{server.url}/jwks.json"


def test_any_jwt_header_is_answered_401_or_200_never_500(tmp_path: Path, jwks_url: str) -> None:
    db = sqlite_url(tmp_path)
    asyncio.run(seed_calendar(db, user_id=USER, entries=1))
    app_settings = make_settings(db, AUTH_MODE="supabase", SUPABASE_JWT_SECRET=SECRET,
                                 SUPABASE_JWKS_URL=jwks_url)
    claims = {"sub": USER, "aud": "authenticated", "exp": int(time.time()) + 3600}
    seen: dict[int, int] = {}
    with live_server(build_app(app_settings)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:

        @given(ODD_HEADERS)
        @settings(max_examples=150, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(header: dict[str, Any]) -> None:
            token = hs256_token(header, claims)
            res = client.get("/v1/calendars", headers={"Authorization": f"Bearer {token}"})
            seen[res.status_code] = seen.get(res.status_code, 0) + 1
            if acceptable(header):
                assert res.status_code == 200, (header, res.text)
            else:
                assert res.status_code == 401, (header, res.text)
                assert res.json()["code"] == "auth_invalid"
                assert res.headers["www-authenticate"] == "Bearer"

        check()
        # The named cases, whatever hypothesis drew.
        for header in ({"alg": ["HS256"]}, {"alg": {"a": 1}}, {"alg": 256},
                       {"alg": "RS256", "kid": ["rsa1"]}, {"alg": "RS256", "kid": {"k": 1}},
                       {"alg": "RS256", "kid": 7}, {"alg": "HS256", "typ": ["JWT"]},
                       {"alg": "HS256", "typ": 5}, {"alg": "HS256", "kid": "k" * 5000}):
            res = client.get("/v1/calendars",
                             headers={"Authorization": f"Bearer {hs256_token(header, claims)}"})
            assert res.status_code == 401, (header, res.text)
    assert seen.get(200) and seen.get(401), seen
