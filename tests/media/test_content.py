"""GET /v1/media/{id}/content: the owner's read, Range (206/416), and signed expiring URLs that
work without auth (403 when expired or tampered)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from postplan.core.redact import redact_text
from postplan.media.signing import signed_query
from tests.media.conftest import OTHER, USER, png_bytes, upload, wait_status


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_owner_reads_with_range(media_client: Callable[..., Any]) -> None:
    data = png_bytes((300, 200))
    async with media_client() as client:
        media = (await upload(client, data, "a.png")).json()
        url = f"/v1/media/{media['id']}/content"
        whole = await client.get(url, headers=USER)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-type"] == "image/png"
        assert whole.headers["accept-ranges"] == "bytes"
        part = await client.get(url, headers={**USER, "Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == data[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
        tail = await client.get(url, headers={**USER, "Range": "bytes=-5"})
        assert tail.status_code == 206 and tail.content == data[-5:]
        beyond = await client.get(url, headers={**USER, "Range": f"bytes={len(data)}-"})
        assert beyond.status_code == 416
        assert beyond.json()["code"] == "range_not_satisfiable"
        assert beyond.headers["content-range"] == f"bytes */{len(data)}"
        garbage = await client.get(url, headers={**USER, "Range": "pages=1-2"})
        assert garbage.status_code == 200 and garbage.content == data
        # Another user's media is not found, with or without a Range.
        assert (await client.get(url, headers=OTHER)).status_code == 404
        assert (await client.get(f"/v1/media/{media['id']}", headers=OTHER)).status_code == 404


async def test_signed_urls_work_without_auth_until_they_expire(
        media_client: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    data = png_bytes((1100, 900))
    async with media_client(AUTH_MODE="supabase", SUPABASE_JWT_SECRET="s" * 32) as client:
        # Supabase mode: no credentials at all on these requests.
        assert (await client.get("/v1/media")).status_code == 401
    async with media_client(PUBLIC_BASE_URL="https://media.example.com") as client:
        media = (await upload(client, data, "b.png")).json()
        assert media["url"].startswith(
            f"https://media.example.com/v1/media/{media['id']}/content?")
        signed = _path_and_query(media["url"])
        anon = await client.get(signed, headers={"X-User-Id": "nobody"})
        assert anon.status_code == 200 and anon.content == data
        ranged = await client.get(signed, headers={"Range": "bytes=0-3"})
        assert ranged.status_code == 206 and ranged.content == data[:4]
        # Derived copies have URLs of their own (the role is signed too).
        done = await wait_status(client, media["id"])
        role, url = next(iter(done["derived"].items()))
        copy = await client.get(_path_and_query(url), headers={"X-User-Id": "nobody"})
        assert copy.status_code == 200 and copy.content[:3] in (b"\xff\xd8\xff", b"RIFF")
        query = parse_qs(urlsplit(url).query)
        swapped = f"/v1/media/{media['id']}/content?exp={query['exp'][0]}&sig={query['sig'][0]}"
        refused = await client.get(swapped, headers={"X-User-Id": "nobody"})
        assert refused.status_code == 403 and refused.json()["code"] == "media_signature_invalid"
        assert role in done["derived"]
        # Tampered: another id, another expiry, a changed signature.
        query = parse_qs(urlsplit(media["url"]).query)
        exp, sig = query["exp"][0], query["sig"][0]
        for bad in (f"/v1/media/{uuid.uuid4()}/content?exp={exp}&sig={sig}",
                    f"/v1/media/{media['id']}/content?exp={int(exp) + 60}&sig={sig}",
                    f"/v1/media/{media['id']}/content?exp={exp}&sig={sig[:-2]}AA",
                    f"/v1/media/{media['id']}/content?exp=&sig="):
            res = await client.get(bad)
            assert res.status_code == 403, bad
            assert res.json()["code"] == "media_signature_invalid"
        # Expired (signed correctly with the app's key, in the past).
        past = int(time.time()) - 10
        old = signed_query(b"test-signing-key", uuid.UUID(media["id"]), "original", past)
        res = await client.get(f"/v1/media/{media['id']}/content?{old}")
        assert res.status_code == 403 and res.json()["code"] == "media_url_expired"
    # No signature reaches a log line.
    logged = capsys.readouterr().err
    assert "http.request" in logged and sig not in logged


def test_signatures_are_redacted_from_free_text() -> None:
    text = "fetch https://h/v1/media/1/content?exp=9&sig=SeCrEt-_42&role=jpeg failed"
    assert redact_text(text) == "fetch https://h/v1/media/1/content?exp=9&sig=***&role=jpeg failed"
