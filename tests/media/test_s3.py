"""The S3 store against an S3-compatible server on loopback (moto's ThreadedMotoServer): upload,
Range reads, processing with derived copies, delete, and an aborted upload leaving no object.

moto emulates the S3 REST API in memory (objects, multipart uploads, ranged GETs, deletes); it
does not emulate bucket lifecycle rules (the AbortIncompleteMultipartUpload cleanup of parts an
interrupted upload sent), consistency delays, or any provider's specific limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.fixtures.apps import free_port
from tests.media.conftest import (
    USER,
    chunked_upload,
    orphan_sweep_removes_only_orphans,
    png_bytes,
    upload,
    wait_status,
)

BUCKET = "postplan-media"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
         "region_name": "us-east-1"}


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, **CREDS).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def _keys(endpoint: str) -> list[str]:
    listed = boto3.client("s3", endpoint_url=endpoint, **CREDS).list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listed.get("Contents", []))


async def test_s3_round_trip(s3_endpoint: str, media_client: Callable[..., Any]) -> None:
    store = {"MEDIA_STORE_URL": f"s3://{BUCKET}/library", "MEDIA_STORE_ENDPOINT": s3_endpoint,
             "MEDIA_STORE_ACCESS_KEY_ID": "testing", "MEDIA_STORE_SECRET_ACCESS_KEY": "testing"}
    data = png_bytes((1200, 1000))
    async with media_client(**store) as client:
        media = (await upload(client, data, "s3.png")).json()
        assert _keys(s3_endpoint) == [f"library/{media['id']}/original"]
        url = f"/v1/media/{media['id']}/content"
        assert (await client.get(url, headers=USER)).content == data
        part = await client.get(url, headers={**USER, "Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        beyond = await client.get(url, headers={**USER, "Range": "bytes=999999-"})
        assert beyond.status_code == 416
        done = await wait_status(client, media["id"])
        assert done["status"] == "ready" and done["derived"]
        assert len(_keys(s3_endpoint)) == 1 + len(done["derived"])
        assert (await client.delete(f"/v1/media/{media['id']}", headers=USER)).status_code \
            == 204
        assert _keys(s3_endpoint) == []
    # Over the limit mid-stream, past the first 8 MiB part: no object becomes visible.
    big = png_bytes() + b"\0" * (12 << 20)
    async with media_client(**store, MEDIA_MAX_BYTES=10 << 20) as client:
        res = await chunked_upload(client, big, "big.png")
        assert res.status_code == 413 and res.json()["code"] == "media_too_large"
        assert _keys(s3_endpoint) == []


async def test_s3_orphans_are_swept_once_old(
    s3_endpoint: str, db_url: str, media_settings: Callable[..., Any],
    media_client: Callable[..., Any],
) -> None:
    store = {"MEDIA_STORE_URL": f"s3://{BUCKET}/library", "MEDIA_STORE_ENDPOINT": s3_endpoint,
             "MEDIA_STORE_ACCESS_KEY_ID": "testing", "MEDIA_STORE_SECRET_ACCESS_KEY": "testing",
             "MEDIA_PROCESSING_ENABLED": False}
    settings = media_settings(**store)
    async with media_client(**store) as client:
        got = await orphan_sweep_removes_only_orphans(settings, db_url, client)
    assert got["young"] == [] and got["old"] == got["orphan"]
    assert got["left"] == sorted([f"{got['kept'][0]}/original", "notes/readme.txt"])
    # Keys are relative to the store's prefix; the bucket holds them under it.
    assert _keys(s3_endpoint) == [f"library/{k}" for k in got["left"]]
