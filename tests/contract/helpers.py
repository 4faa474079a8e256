"""Helpers for the contract suite (docs/contract.md): the app on real uvicorn, shape checks,
polling."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from postplan.config import Settings
from tests.fakes.sse_client import of, read_stream
from tests.fixtures.apps import build_app, live_server

#: docs/contract.md §2 field lists, exactly as written.
CALENDAR_FIELDS = {"id", "name", "brief", "timezone", "latestRunId", "createdAt", "updatedAt"}
ENTRY_FIELDS = {"id", "calendarId", "runId", "channel", "format", "scheduledAt", "timezone",
                "pillar", "hook", "caption", "hashtags", "callToAction", "assetNotes", "media",
                "channelOptions", "version", "edited", "updatedAt"}
INTENT_FIELDS = {"id", "calendarId", "runId", "entryId", "channel", "status", "payload", "error",
                 "attempts", "platformPostId", "createdAt", "updatedAt"}
INTENT_STATUSES = {"dry_run", "pending", "claimed", "submitting", "processing", "published",
                   "failed", "needs_reauth", "unknown", "cancelled"}
FORMATS = {"tiktok": {"video", "photo"}, "instagram": {"reel", "carousel", "image", "story"}}
SUMMARY_FIELDS = {"total", "succeeded", "failed", "queued", "skipped"}
RESULT_FIELDS = {"intentId", "entryId", "channel", "status", "error", "payload"}
RUN_EVENT_FIELDS = {"runId", "calendarId", "mode", "dryRun", "expectedEntries"}
#: Additive (issue 16, docs/briefs.md): how the planner read the brief.
RUN_PLAN_FIELDS = {"postsPerWeekMode", "postsPerWeek", "notes"}
DONE_FIELDS = {"runId", "status", "entryCount"}
PROBLEM_TYPE = "application/problem+json"
SettingsFactory = Callable[..., Settings]
ON = {"CALENDAR_SERVICE_ENABLED": True, "PUBLISH_SERVICE_ENABLED": True}
ALICE = {"X-User-Id": "alice"}
BOB = {"X-User-Id": "bob"}


def future_date(days: int = 2) -> str:
    """An ISO date `days` from today (UTC), so scheduled times are never in the past."""
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


def brief(**overrides: Any) -> dict[str, Any]:
    """A valid brief (docs/contract.md §2) starting in the future."""
    body: dict[str, Any] = {"brand": "Contract Coffee", "niche": "specialty coffee",
                            "audience": "commuters", "goals": "awareness",
                            "channels": ["tiktok", "instagram"], "startDate": future_date(),
                            "days": 14, "timezone": "Europe/Berlin", "country": "DE",
                            "language": "en"}
    body.update(overrides)
    return body


@asynccontextmanager
async def served(settings: Settings,
                 **state: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app on real uvicorn (127.0.0.1) and a client; `state` is set on `app.state`."""
    app = build_app(settings)
    for key, value in state.items():
        setattr(app.state, key, value)
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield app, client


def is_iso(value: Any) -> bool:
    """An ISO 8601 timestamp carrying an offset."""
    if not isinstance(value, str):
        return False
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def assert_problem(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with `status` (and `code`)."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_TYPE), resp.headers
    body: dict[str, Any] = resp.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


def assert_entry(entry: dict[str, Any]) -> None:
    """An Entry as docs/contract.md §2 writes it."""
    assert set(entry) == ENTRY_FIELDS, set(entry) ^ ENTRY_FIELDS
    assert entry["format"] in FORMATS[entry["channel"]], entry
    assert is_iso(entry["scheduledAt"]) and is_iso(entry["updatedAt"])
    offset = dt.datetime.fromisoformat(entry["scheduledAt"]).utcoffset()
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromisoformat(entry["scheduledAt"]).astimezone(ZoneInfo(entry["timezone"]))
    assert offset == local.utcoffset(), entry  # shown with the zone's own offset
    assert isinstance(entry["hashtags"], list)
    assert not any(str(h).startswith("#") for h in entry["hashtags"])
    assert isinstance(entry["media"], list)
    assert all(set(m) >= {"url", "type"} for m in entry["media"])
    assert isinstance(entry["version"], int) and isinstance(entry["edited"], bool)


def assert_calendar(cal: dict[str, Any], *, with_entries: bool = False) -> None:
    """A Calendar (GET of one adds `entries`)."""
    expected = CALENDAR_FIELDS | ({"entries"} if with_entries else set())
    assert set(cal) == expected, set(cal) ^ expected
    assert is_iso(cal["createdAt"]) and is_iso(cal["updatedAt"])
    assert isinstance(cal["brief"], dict)


def assert_intent(intent: dict[str, Any]) -> set[str]:
    """A publish intent; returns the fields beyond the contract's list (extensions)."""
    assert set(intent) >= INTENT_FIELDS, INTENT_FIELDS - set(intent)
    assert intent["status"] in INTENT_STATUSES
    assert is_iso(intent["createdAt"]) and is_iso(intent["updatedAt"])
    assert isinstance(intent["attempts"], int)
    assert intent["error"] is None or {"code", "message"} <= set(intent["error"])
    return set(intent) - INTENT_FIELDS


def assert_page(body: Any) -> list[dict[str, Any]]:
    """A list answer: exactly `{items, nextCursor}`."""
    assert isinstance(body, dict) and set(body) == {"items", "nextCursor"}, body
    assert isinstance(body["items"], list)
    assert body["nextCursor"] is None or isinstance(body["nextCursor"], str)
    items: list[dict[str, Any]] = body["items"]
    return items


def assert_publish_response(body: dict[str, Any]) -> None:
    """`{dryRun, summary{...}, results[{...}]}` with consistent counts."""
    assert set(body) == {"dryRun", "summary", "results"}, body.keys()
    assert set(body["summary"]) == SUMMARY_FIELDS
    for result in body["results"]:
        assert set(result) == RESULT_FIELDS, set(result) ^ RESULT_FIELDS
        assert result["error"] is None or {"code", "message"} <= set(result["error"])
        assert isinstance(result["payload"], dict)
    assert body["summary"]["total"] == len(body["results"])


async def wait_for(check: Callable[[], Awaitable[bool]], within: float = 30.0,
                   step: float = 0.1) -> bool:
    """Poll `check` until it holds or `within` seconds pass; whether it held."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(step)
    return await check()


def metric(page: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples in a Prometheus text page whose labels include `labels`."""
    total = 0.0
    for line in page.splitlines():
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def metrics_page(client: httpx.AsyncClient) -> str:
    """The app's /metrics text."""
    return (await client.get("/metrics")).text


class TcpProxy:
    """A loopback TCP proxy to a database, in its own thread: `down()` refuses and cuts every
    connection (the database is "unreachable"), `up()` lets traffic through again."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        from tests.fixtures.apps import free_port

        self.port = free_port()
        self.target = (target_host, target_port)
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        import threading

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="contract-db-proxy")
        self.thread.start()

    def _call(self, coro: Awaitable[Any]) -> Any:
        async def wrapper() -> Any:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout=10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers.difference_update({writer, up_writer})

    async def _up(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port,
                                                 reuse_address=True)

    async def _down(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def up(self) -> None:
        self._call(self._up())

    def down(self) -> None:
        self._call(self._down())

    def close(self) -> None:
        self.down()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


async def generate(client: httpx.AsyncClient, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> list[Any]:
    """The whole stream of one `POST /v1/ai/calendar`."""
    return await read_stream(client, "POST", "/v1/ai/calendar", json_body=body,
                             headers=headers)


async def calendar_with_media(
    client: httpx.AsyncClient, base: str, days: int = 3, headers: dict[str, str] = ALICE,
) -> tuple[str, list[dict[str, Any]]]:
    """A generated calendar; its first TikTok and first Instagram entry get media attached."""
    events = await generate(client, brief(days=days), headers)
    cal = events[0].data["calendarId"]
    entries = [e.data["entry"] for e in of(events, "entry")]
    picked: list[dict[str, Any]] = []
    for channel, fmt, media in (("tiktok", "video", [{"url": f"{base}/media/clip.mp4",
                                                      "type": "video"}]),
                                ("instagram", "image", [{"url": f"{base}/media/photo.jpg",
                                                         "type": "image"}])):
        entry = next(e for e in entries if e["channel"] == channel)
        body: dict[str, Any] = {"format": fmt, "media": media}
        if channel == "tiktok":  # the choices TikTok needs a person to make
            body["channelOptions"] = {"tiktok": {"privacyLevel": "SELF_ONLY",
                                                 "musicUsageConfirmed": True}}
        resp = await client.patch(f"/v1/calendars/{cal}/entries/{entry['id']}", headers={
            **headers, "If-Match": str(entry["version"])}, json=body)
        assert resp.status_code == 200, resp.text
        picked.append(resp.json())
    return cal, picked


async def connect_both(client: httpx.AsyncClient, fake: Any,
                       headers: dict[str, str] = ALICE) -> None:
    """Connect TikTok and Instagram to fresh accounts on the fake platform, through the API."""
    for channel in ("tiktok", "instagram"):
        acct = fake.control.add_account(channel)
        resp = await client.put(f"/v1/channels/{channel}/connection", headers=headers,
                                json={"accessToken": acct.token, "accountId": acct.account_id})
        assert resp.status_code == 200, resp.text


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without service settings, on a SQLite file in `tmp_path`."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE",
                        "LLM_BASE_URL", "DATABASE_URL", "AUTH_MODE", "LOG_FILE"}}
    env.update({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
                "SPOOL_DIR": str(tmp_path / "spool"), **extra})
    return env


def run_process(args: list[str], env: dict[str, str],
                cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command to its end (60 s at most), capturing its output."""
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


def start_process(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start a long-running command; its stderr is piped for `wait_for_line`."""
    return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen[str], needle: str) -> bool:
    """Read the process's stderr until a line holds `needle` (False when it ends first)."""
    assert proc.stderr is not None
    return any(needle in line for line in proc.stderr)
