"""Dev and Supabase JWT auth: every bad token is a 401 problem; another user's data is 404."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tests.fixtures.apps import live_server
from tests.fixtures.factories import seed_calendar

SECRET = "test-secret-that-is-long-enough-for-hs256"


def _token(sub: str = "user-a", *, key: Any = SECRET, alg: str = "HS256",
           aud: str = "authenticated",
           exp_in: int = 3600, kid: str | None = None, **extra: Any) -> str:
    claims = {"sub": sub, "aud": aud, "exp": int(time.time()) + exp_in, "role": "authenticated",
              **extra}
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A JWKS endpoint on loopback serving one ES256 and one RS256 public key."""
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk.update(kid="ec1", alg="ES256", use="sig")
    rsa_jwk.update(kid="rsa1", alg="RS256", use="sig")
    app = FastAPI()

    @app.get("/auth/v1/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse({"keys": [ec_jwk, rsa_jwk]})

    with live_server(app) as server:
        yield f"{server.url}/auth/v1/.well-known/jwks.json", {"ec": ec_key, "rsa": rsa_key}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_supabase_tokens(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Any], db_url: str,
    jwks_server: tuple[str, dict[str, Any]],
) -> None:
    url, keys = jwks_server
    seeded = await seed_calendar(db_url, user_id="user-a")
    settings = settings_factory(AUTH_MODE="supabase", SUPABASE_JWT_SECRET=SECRET,
                                SUPABASE_JWKS_URL=url)
    async with client_factory(settings) as client:
        async def get(token: str | None, path: str = "/v1/calendars") -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await client.get(path, headers=headers)

        ok = await get(_token())
        assert ok.status_code == 200
        assert [c["id"] for c in ok.json()["items"]] == [str(seeded.calendar_id)]
        es = await get(_token(key=keys["ec"], alg="ES256", kid="ec1"))
        assert es.status_code == 200
        assert len(es.json()["items"]) == 1
        rs = await get(_token(key=keys["rsa"], alg="RS256", kid="rsa1"))
        assert rs.status_code == 200
        assert len(rs.json()["items"]) == 1

        other = await get(_token(sub="user-b"), f"/v1/calendars/{seeded.calendar_id}")
        assert other.status_code == 404

        cases = {
            "missing": (None, "auth_missing"),
            "expired": (_token(exp_in=-120), "auth_expired"),
            "forged": (_token(key="another-secret-of-sufficient-length!!"), "auth_invalid"),
            "wrong audience": (_token(aud="anon"), "auth_invalid"),
            "garbage": ("not.a.jwt", "auth_invalid"),
            "alg none": (jwt.encode({"sub": "user-a", "aud": "authenticated",
                                     "exp": int(time.time()) + 60}, None, algorithm="none"),
                         "auth_invalid"),
            "unknown kid": (_token(key=keys["ec"], alg="ES256", kid="nope"), "auth_invalid"),
        }
        for name, (token, code) in cases.items():
            res = await get(token)
            assert res.status_code == 401, name
            assert res.headers["content-type"].startswith("application/problem+json"), name
            assert res.json()["code"] == code, name
            assert "user-a" not in res.text

        # Dev headers mean nothing in Supabase mode.
        res = await client.get("/v1/calendars", headers={"X-User-Id": "user-a"})
        assert res.status_code == 401


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_dev_mode_user_header(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Any], db_url: str
) -> None:
    await seed_calendar(db_url, user_id="local")
    async with client_factory(settings_factory()) as client:
        assert len((await client.get("/v1/calendars")).json()["items"]) == 1
        res = await client.get("/v1/calendars", headers={"X-User-Id": "bad user!"})
        assert res.status_code == 401
        assert res.json()["code"] == "invalid_user_id"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_dev_mode_refuses_clients_from_other_machines(
    settings_factory: Callable[..., Any], db_url: str
) -> None:
    from tests.fixtures.apps import build_app

    await seed_calendar(db_url, user_id="local")
    app = build_app(settings_factory())
    async with app.router.lifespan_context(app):
        remote = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=remote, base_url="http://x") as client:
            res = await client.get("/v1/calendars")
            assert res.status_code == 401
            assert res.json()["code"] == "dev_auth_not_loopback"
        local = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=local, base_url="http://127.0.0.1") as client:
            assert len((await client.get("/v1/calendars")).json()["items"]) == 1
