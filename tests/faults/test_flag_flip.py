"""A flag flipped in the flags file while the service is under load takes effect within 5 s.

Real uvicorn on loopback, eight clients in tight loops: half start generations and read the
`run` event's `mode`, half ask for live publishes (`dryRun: false`, no channel connected, so
while PUBLISH_SERVICE_ENABLED is on the answer is 422 `channel_auth_missing`; once it is off,
every publish is a forced dry run). Mid-load the file is rewritten (both flags off) — no
restart. What must hold: after the flip, no request that *started* more than 5 s later still
sees the old value, and the first new value shows up within 5 s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.cli.flags import boolean_flag, write_document
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url
from tests.fixtures.factories import seed_calendar

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

BRIEF = {"brand": "Acme Coffee", "startDate": "2026-12-01", "days": 3, "channels": ["tiktok"]}
BOUND_S = 5.0


@pytest.fixture
def db(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


def write_flags(path: Path, on: bool) -> None:
    write_document(path, {"flags": {"CALENDAR_SERVICE_ENABLED": boolean_flag(on),
                                    "PUBLISH_SERVICE_ENABLED": boolean_flag(on)}})


async def generation_mode(client: httpx.AsyncClient) -> str:
    async with client.stream("POST", "/v1/ai/calendar", json=BRIEF) as resp:
        assert resp.status_code == 200
        async for line in resp.aiter_lines():
            if line.startswith("data:") and '"mode"' in line:
                mode = line.split('"mode":"', 1)[1].split('"', 1)[0]
                return "on" if mode != "legacy" else "off"
    raise AssertionError("no run event")


async def publish_mode(client: httpx.AsyncClient, calendar_id: str) -> str:
    resp = await client.post(f"/v1/calendars/{calendar_id}/publish",
                             json={"dryRun": False, "when": "now"})
    if resp.status_code == 422 and resp.json().get("code") == "channel_auth_missing":
        return "on"
    assert resp.status_code in (200, 207), resp.text
    assert resp.json()["dryRun"] is True
    return "off"


async def test_flag_flip_under_load_takes_effect_within_5_seconds(
    tmp_path: Path, db: str
) -> None:
    flags_file = tmp_path / "flags.json"
    write_flags(flags_file, True)
    seeded = await seed_calendar(db, entries=2)
    settings = make_settings(db, FLAGS_FILE=str(flags_file), FLAGS_POLL_SECONDS=1,
                             SPOOL_DIR=str(tmp_path / "spool"), TOKEN_ENCRYPTION_KEY="k" * 32,
                             TIKTOK_CLIENT_KEY="ck", TIKTOK_CLIENT_SECRET="cs",
                             INSTAGRAM_APP_ID="ia", INSTAGRAM_APP_SECRET="is",
                             # Four generate loops of one user may overlap: not the bound tested.
                             MAX_CONCURRENT_RUNS_PER_USER=10)
    app = build_app(settings)
    log: list[tuple[str, float, float, str]] = []  # (kind, started, finished, value)
    stop = asyncio.Event()

    async def loop(client: httpx.AsyncClient, kind: str) -> None:
        while not stop.is_set():
            started = time.monotonic()
            if kind == "generate":
                value = await generation_mode(client)
            else:
                value = await publish_mode(client, str(seeded.calendar_id))
            log.append((kind, started, time.monotonic(), value))

    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            workers = [asyncio.create_task(loop(client, k))
                       for k in ["generate", "publish"] * 4]
            await asyncio.sleep(2.0)
            assert {v for *_, v in log} == {"on"}, "flags were not on before the flip"
            flipped_at = time.monotonic()
            write_flags(flags_file, False)
            await asyncio.sleep(BOUND_S + 2.0)  # load keeps running across the bound
            stop.set()
            await asyncio.gather(*workers)

    after = [entry for entry in log if entry[1] >= flipped_at]
    first_off = min((fin for _k, _s, fin, v in after if v == "off"), default=None)
    assert first_off is not None, "the flip never took effect"
    late_on = [e for e in after if e[3] == "on" and e[1] > flipped_at + BOUND_S]
    assert not late_on, f"{len(late_on)} requests saw the old value > {BOUND_S}s after the flip"
    last_on = max((s for _k, s, _f, v in after if v == "on"), default=flipped_at)
    for kind in ("generate", "publish"):
        assert any(k == kind and v == "off" for k, _s, _f, v in after), kind
    print(f"\nflag-flip: {len(log)} requests, first off answer {first_off - flipped_at:.2f}s "
          f"after the flip, last old value started {last_on - flipped_at:.2f}s after it")
    stats: dict[str, Any] = {"requests": len(log)}
    assert stats["requests"] > 20
