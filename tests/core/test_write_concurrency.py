"""Every write path, all at once, against one database, through real uvicorn on loopback.

SQLite allows one writer: a transaction that reads and only then writes fails at once with
"database is locked" when another connection wrote in between (the busy timeout cannot help a
stale read snapshot). This test runs every write endpoint of the app beside every other, in
several rounds, together with the background writers (the publish worker's claims and state
moves, the spool drain, generation runs saving entries, a run sweeper in another "process"),
and asserts that no request answered 5xx, that nothing logged a locked database, and that every
write landed.

The set of write routes is read from the app's OpenAPI document: a new POST/PUT/PATCH/DELETE
route that this test does not exercise fails it (`test_every_write_route_is_exercised`).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import aconnect_sse
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from postplan.app import create_app
from postplan.calendars.runs.states import RunStatus
from postplan.calendars.runs.store import RunStore
from postplan.channels.base import TokenSet
from postplan.config import Settings
from postplan.core import db as db_module
from postplan.core.db import create_engine, create_sessionmaker, utcnow
from postplan.core.logging import configure_logging
from postplan.core.spool import Spool
from postplan.models import Calendar, CalendarEntry, CalendarRun, PublishIntent
from postplan.publishing.intake import spooled
from postplan.publishing.tables import connections, idempotency_keys, intents, oauth_states
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.publishing.conftest import APP_CREDS, StubGateway

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

#: Rounds of the burst, and lanes (one user each) per round: every lane sends one request of
#: every kind per round, so each round has LANES concurrent writers of each kind.
ROUNDS = 2
LANES = 3

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

#: GET routes that write (and so belong to the set): the OAuth start stores a state row; the
#: callback consumes it and stores the connection.
GET_WRITES = {
    ("GET", "/v1/channels/{channel}/oauth/start"),
    ("GET", "/v1/channels/{channel}/oauth/callback"),
}

#: Write routes this test does not run, each with its reason. Empty: every write route is run.
EXCLUDED: dict[tuple[str, str], str] = {}

PATCH_ENTRY = ("PATCH", "/v1/calendars/{calendar_id}/entries/{entry_id}")
GENERATE = ("POST", "/v1/ai/calendar")
PUBLISH = ("POST", "/v1/calendars/{calendar_id}/publish")
EXPORT = ("POST", "/v1/calendars/{calendar_id}/export")
FEED_ROTATE = ("POST", "/v1/calendars/{calendar_id}/feed")
FEED_REVOKE = ("DELETE", "/v1/calendars/{calendar_id}/feed")
IMPORT = ("POST", "/v1/calendars/import")
CONNECT = ("PUT", "/v1/channels/{channel}/connection")
DISCONNECT = ("DELETE", "/v1/channels/{channel}/connection")
OAUTH_START = ("GET", "/v1/channels/{channel}/oauth/start")
OAUTH_CALLBACK = ("GET", "/v1/channels/{channel}/oauth/callback")
MEDIA_UPLOAD = ("POST", "/v1/media")
MEDIA_DELETE = ("DELETE", "/v1/media/{media_id}")
TUS_CREATE = ("POST", "/v1/media/uploads")
TUS_PATCH = ("PATCH", "/v1/media/uploads/{upload_id}")
TUS_DELETE = ("DELETE", "/v1/media/uploads/{upload_id}")
ENTRY_ADD = ("POST", "/v1/calendars/{calendar_id}/entries")
ENTRY_DUPLICATE = ("POST", "/v1/calendars/{calendar_id}/entries/{entry_id}/duplicate")
ENTRY_DELETE = ("DELETE", "/v1/calendars/{calendar_id}/entries/{entry_id}")
CALENDAR_RENAME = ("PATCH", "/v1/calendars/{calendar_id}")
CALENDAR_DELETE = ("DELETE", "/v1/calendars/{calendar_id}")
REGENERATE = ("POST", "/v1/calendars/{calendar_id}/regenerate")
INTENT_CANCEL = ("POST", "/v1/publish-intents/{intent_id}/cancel")
INTENT_RESOLVE = ("POST", "/v1/publish-intents/{intent_id}/resolve")
INTENT_RETRY = ("POST", "/v1/publish-intents/{intent_id}/retry")
WEBHOOK_ADD = ("POST", "/v1/webhooks")
WEBHOOK_DELETE = ("DELETE", "/v1/webhooks/{webhook_id}")


def write_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route that writes, from the OpenAPI document."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    found = {(method.upper(), path) for path, ops in paths.items() for method in ops
             if method.upper() in WRITE_METHODS}
    return found | GET_WRITES


def test_every_write_route_is_exercised(tmp_path: Path) -> None:
    """The burst below covers exactly the app's write routes (minus documented exclusions)."""
    app = build_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/routes.db"))
    assert write_routes(app) - set(EXCLUDED) == EXERCISED


EXERCISED = {PATCH_ENTRY, GENERATE, PUBLISH, EXPORT, FEED_ROTATE, FEED_REVOKE, IMPORT, CONNECT,
             DISCONNECT, OAUTH_START, OAUTH_CALLBACK, MEDIA_UPLOAD, MEDIA_DELETE, TUS_CREATE,
             TUS_PATCH, TUS_DELETE, ENTRY_ADD, ENTRY_DUPLICATE, ENTRY_DELETE, CALENDAR_RENAME,
             CALENDAR_DELETE, REGENERATE, INTENT_CANCEL, INTENT_RESOLVE, INTENT_RETRY,
             WEBHOOK_ADD, WEBHOOK_DELETE}


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _user(lane: int) -> dict[str, str]:
    return {"X-User-Id": f"lane-{lane}"}


class Lane:
    """One user's calendar and the entries each kind of write works on."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.user = f"lane-{index}"
        self.headers = _user(index)
        self.calendar_id = uuid.uuid4()
        self.patch_target = uuid.uuid4()
        self.import_target = uuid.uuid4()
        # One entry per round for the live publish over HTTP, one for the spooled one.
        self.live = [uuid.uuid4() for _ in range(ROUNDS)]
        self.spooled = [uuid.uuid4() for _ in range(ROUNDS)]
        # Per round: a calendar to delete; intents (each on its own entry) to cancel (pending,
        # due later), resolve (unknown) and retry (failed); and a calendar to regenerate.
        self.doomed = [uuid.uuid4() for _ in range(ROUNDS)]
        self.to_cancel = [uuid.uuid4() for _ in range(ROUNDS)]
        self.to_resolve = [uuid.uuid4() for _ in range(ROUNDS)]
        self.to_retry = [uuid.uuid4() for _ in range(ROUNDS)]
        self.intent_entries = [uuid.uuid4() for _ in range(3 * ROUNDS)]
        self.regen_calendar = uuid.uuid4()
        self.regen_entry = uuid.uuid4()
        self.imported: list[uuid.UUID] = []
        self.feed_token: str | None = None
        self.run_ids: list[str] = []
        self.expected_run_entries: dict[str, int] = {}
        self.media: list[str] = []


async def _seed(db_url: str, lanes: list[Lane]) -> None:
    engine = create_engine(db_url)
    try:
        maker = create_sessionmaker(engine)
        start = utcnow().replace(microsecond=0) + dt.timedelta(days=2)
        async with maker() as session:
            regen_brief = {"brand": "Lane", "startDate": "2027-01-04", "days": 3,
                           "channels": ["tiktok"], "timezone": "UTC"}
            for lane in lanes:
                session.add(Calendar(id=lane.calendar_id, user_id=lane.user, name="Lane",
                                     brief={"brand": "Lane"}, timezone="UTC"))
                session.add(Calendar(id=lane.regen_calendar, user_id=lane.user, name="Regen",
                                     brief=regen_brief, timezone="UTC"))
                for doomed in lane.doomed:
                    session.add(Calendar(id=doomed, user_id=lane.user, name="Doomed",
                                         brief={"brand": "Lane"}, timezone="UTC"))
            await session.flush()
            for lane in lanes:
                session.add(CalendarEntry(
                    id=lane.regen_entry, calendar_id=lane.regen_calendar, user_id=lane.user,
                    seq=0, channel="tiktok", format="video",
                    scheduled_at=dt.datetime(2027, 1, 4, 10, tzinfo=dt.UTC), timezone="UTC",
                    caption="Regenerate me", hashtags=["tag"]))
                ids = [lane.patch_target, lane.import_target, *lane.live, *lane.spooled,
                       *lane.intent_entries]
                for i, entry_id in enumerate(ids):
                    session.add(CalendarEntry(
                        id=entry_id, calendar_id=lane.calendar_id, user_id=lane.user, seq=i,
                        channel="tiktok", format="video",
                        scheduled_at=start + dt.timedelta(hours=i), timezone="UTC",
                        caption=f"Post {i}", hashtags=["tag"],
                        media=[{"url": f"https://cdn.example.com/{i}.mp4", "type": "video"}],
                        channel_options={"tiktok": {"privacyLevel": "SELF_ONLY",
                                                    "musicUsageConfirmed": True}}))
            await session.flush()
            for lane in lanes:
                seeded = zip((*lane.to_cancel, *lane.to_resolve, *lane.to_retry),
                             ("pending",) * ROUNDS + ("unknown",) * ROUNDS + ("failed",) * ROUNDS,
                             lane.intent_entries, strict=True)
                for intent_id, status, entry_id in seeded:
                    session.add(PublishIntent(
                        id=intent_id, calendar_id=lane.calendar_id, entry_id=entry_id,
                        user_id=lane.user, channel="tiktok", payload={}, status=status,
                        dry_run=False, when="scheduled", run_after=start + dt.timedelta(days=5),
                        # A retry is due at the request's time: later than the burst.
                        request={"scheduled_at": (start + dt.timedelta(days=5)).isoformat()},
                        error={"code": "seeded", "message": "seeded"}
                        if status == "failed" else None))
            await session.commit()
    finally:
        await engine.dispose()


class Burst:
    """The client side: every response is recorded, so a 5xx anywhere fails the test."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.statuses: list[tuple[str, str, int, str]] = []
        self.exercised: set[tuple[str, str]] = set()
        self.client = self.new_client()

    def new_client(self) -> httpx.AsyncClient:
        async def record(response: httpx.Response) -> None:
            body = ""
            if response.status_code >= 500:
                await response.aread()
                body = response.text[:300]
            self.statuses.append((response.request.method, response.request.url.path,
                                  response.status_code, body))

        return httpx.AsyncClient(base_url=self.base_url, timeout=60,
                                 limits=httpx.Limits(max_connections=200),
                                 event_hooks={"response": [record]})

    def server_errors(self) -> list[str]:
        """Each 5xx answered, as `METHOD /path/{id} status: detail` (ids folded)."""
        return sorted(f"{m} {_UUID.sub('{id}', p)} {st}: {body[:160]}"
                      for m, p, st, body in self.statuses if st >= 500)

    async def expect(self, route: tuple[str, str], status: int | set[int], method: str,
                     url: str, client: httpx.AsyncClient | None = None,
                     **kwargs: Any) -> httpx.Response:
        self.exercised.add(route)
        resp = await (client or self.client).request(method, url, **kwargs)
        wanted = {status} if isinstance(status, int) else status
        assert resp.status_code in wanted, (method, url, resp.status_code, resp.text[:300])
        return resp

    # -- one request (or short sequence) of each kind ---------------------------------------

    async def patch_entry(self, lane: Lane, rnd: int) -> None:
        await self.expect(PATCH_ENTRY, 200, "PATCH",
                          f"/v1/calendars/{lane.calendar_id}/entries/{lane.patch_target}",
                          json={"caption": f"edited in round {rnd}"}, headers=lane.headers)

    async def generate(self, lane: Lane, rnd: int) -> None:
        brief: dict[str, Any] = {"brand": f"Lane {lane.index}", "niche": "coffee",
                                 "startDate": "2027-01-04", "days": 7, "timezone": "UTC",
                                 "channels": ["tiktok"], "seed": f"{lane.index}-{rnd}"}
        if rnd % 2 == 0:  # into the lane's calendar (reads it first), else a new calendar
            brief["calendarId"] = str(lane.calendar_id)
        self.exercised.add(GENERATE)
        events: list[tuple[str, dict[str, Any]]] = []
        async with aconnect_sse(self.client, "POST", "/v1/ai/calendar", json=brief,
                                headers=lane.headers) as source:
            assert source.response.status_code == 200, await source.response.aread()
            async for sse in source.aiter_sse():
                events.append((sse.event, json.loads(sse.data)))
        run = events[0][1]
        assert events[0][0] == "run" and run["dryRun"] is False, events[:1]
        assert events[-1][0] == "done" and events[-1][1]["status"] == "completed", events[-2:]
        lane.run_ids.append(run["runId"])
        lane.expected_run_entries[run["runId"]] = run["expectedEntries"]

    async def publish(self, lane: Lane, rnd: int) -> None:
        # A dry run of the whole calendar, then a live publish of this round's entry with an
        # Idempotency-Key, then its replay.
        url = f"/v1/calendars/{lane.calendar_id}/publish"
        await self.expect(PUBLISH, {200, 207}, "POST", url, json={"dryRun": True},
                          headers=lane.headers)
        key = {"Idempotency-Key": f"{lane.user}-{rnd}", **lane.headers}
        body = {"dryRun": False, "when": "now", "entryIds": [str(lane.live[rnd])]}
        first = await self.expect(PUBLISH, 200, "POST", url, json=body, headers=key)
        assert first.json()["summary"]["queued"] == 1, first.text
        again = await self.expect(PUBLISH, 200, "POST", url, json=body, headers=key)
        assert again.headers.get("idempotent-replayed") == "true"

    async def export(self, lane: Lane, rnd: int) -> None:
        await self.expect(EXPORT, 200, "POST", f"/v1/calendars/{lane.calendar_id}/export",
                          json={"format": ("csv", "ics", "json")[rnd % 3], "dryRun": True},
                          headers=lane.headers)

    async def feed(self, lane: Lane, rnd: int) -> None:
        url = f"/v1/calendars/{lane.calendar_id}/feed"
        await self.expect(FEED_ROTATE, 201, "POST", url, headers=lane.headers)
        await self.expect(FEED_REVOKE, 204, "DELETE", url, headers=lane.headers)
        last = await self.expect(FEED_ROTATE, 201, "POST", url, headers=lane.headers)
        lane.feed_token = last.json()["token"]

    async def import_file(self, lane: Lane, rnd: int) -> None:
        new_id = uuid.uuid4()
        lane.imported.append(new_id)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "channel", "format", "scheduledAt", "caption"])
        writer.writerow([str(lane.import_target), "tiktok", "video", "2027-02-01T10:00:00Z",
                         f"imported in round {rnd}"])
        writer.writerow([str(new_id), "tiktok", "video", "2027-02-02T10:00:00Z", "new row"])
        resp = await self.expect(IMPORT, 200, "POST", "/v1/calendars/import",
                                 content=out.getvalue().encode(),
                                 params={"calendarId": str(lane.calendar_id)},
                                 headers={"content-type": "text/csv", **lane.headers})
        assert (resp.json()["created"], resp.json()["updated"]) == (1, 1), resp.text

    async def connections(self, lane: Lane, rnd: int) -> None:
        # Instagram only: the live publishes above need the TikTok connection to stay.
        url = "/v1/channels/instagram/connection"
        await self.expect(CONNECT, 200, "PUT", url, headers=lane.headers,
                          json={"accessToken": f"act.{lane.user}.{rnd}.secret-value",
                                "accountId": f"{lane.user}-ig"})
        await self.expect(DISCONNECT, 204, "DELETE", url, headers=lane.headers)
        # A fresh client per login: the callback must come from the browser that started it.
        async with self.new_client() as browser:
            start = await self.expect(OAUTH_START, 200, "GET",
                                      "/v1/channels/instagram/oauth/start",
                                      client=browser, headers=lane.headers)
            state = start.json()["state"]
            await self.expect(OAUTH_CALLBACK, 200, "GET",
                              "/v1/channels/instagram/oauth/callback", client=browser,
                              params={"code": f"{lane.user}-{rnd}", "state": state})


    async def media(self, lane: Lane, rnd: int) -> None:
        # Upload (the processing job then writes the row beside everything else), delete one
        # of the lane's earlier uploads, keep the newest.
        image = io.BytesIO()
        Image.new("RGB", (32 + rnd, 32), "green").save(image, "PNG")
        made = await self.expect(MEDIA_UPLOAD, 201, "POST", "/v1/media", headers=lane.headers,
                                 files={"file": (f"r{rnd}.png", image.getvalue(), "image/png")})
        lane.media.append(made.json()["id"])
        if len(lane.media) > 1:
            await self.expect(MEDIA_DELETE, 204, "DELETE", f"/v1/media/{lane.media.pop(0)}",
                              headers=lane.headers)
        # A resumable upload in two pieces, and one abandoned.
        tus = {"Tus-Resumable": "1.0.0", **lane.headers}
        data = image.getvalue()
        made = await self.expect(TUS_CREATE, 201, "POST", "/v1/media/uploads", headers={
            **tus, "Upload-Length": str(len(data))})
        where = made.headers["location"]
        octets = {**tus, "Content-Type": "application/offset+octet-stream"}
        await self.expect(TUS_PATCH, 204, "PATCH", where, content=data[:40],
                          headers={**octets, "Upload-Offset": "0"})
        done = await self.expect(TUS_PATCH, 204, "PATCH", where, content=data[40:],
                                 headers={**octets, "Upload-Offset": "40"})
        assert done.headers["upload-media-id"]
        made = await self.expect(TUS_CREATE, 201, "POST", "/v1/media/uploads", headers={
            **tus, "Upload-Length": "10"})
        await self.expect(TUS_DELETE, 204, "DELETE", made.headers["location"], headers=tus)


    async def manage(self, lane: Lane, rnd: int) -> None:
        # Entries and calendars by hand, intents settled by a person, webhooks.
        cal = f"/v1/calendars/{lane.calendar_id}"
        await self.expect(CALENDAR_RENAME, 200, "PATCH", cal, json={"name": f"Lane r{rnd}"},
                          headers=lane.headers)
        added = await self.expect(ENTRY_ADD, 201, "POST", f"{cal}/entries", headers=lane.headers,
                                  json={"channel": "tiktok", "format": "video",
                                        "scheduledAt": f"2027-03-0{rnd + 1}T10:00:00Z",
                                        "caption": f"by hand {rnd}"})
        copy = await self.expect(ENTRY_DUPLICATE, 201, "POST",
                                 f"{cal}/entries/{added.json()['id']}/duplicate", json={},
                                 headers=lane.headers)
        await self.expect(ENTRY_DELETE, 204, "DELETE", f"{cal}/entries/{copy.json()['id']}",
                          headers=lane.headers)
        await self.expect(CALENDAR_DELETE, 204, "DELETE", f"/v1/calendars/{lane.doomed[rnd]}",
                          headers=lane.headers)
        intents_url = "/v1/publish-intents"
        await self.expect(INTENT_CANCEL, 200, "POST",
                          f"{intents_url}/{lane.to_cancel[rnd]}/cancel", headers=lane.headers)
        await self.expect(INTENT_RESOLVE, 200, "POST",
                          f"{intents_url}/{lane.to_resolve[rnd]}/resolve",
                          json={"outcome": "not_published"}, headers=lane.headers)
        await self.expect(INTENT_RETRY, 200, "POST", f"{intents_url}/{lane.to_retry[rnd]}/retry",
                          headers=lane.headers)
        hook = await self.expect(WEBHOOK_ADD, 201, "POST", "/v1/webhooks", headers=lane.headers,
                                 json={"url": f"http://127.0.0.1:9/{lane.user}/{rnd}",
                                       "events": ["run.completed"]})
        await self.expect(WEBHOOK_DELETE, 204, "DELETE", f"/v1/webhooks/{hook.json()['id']}",
                          headers=lane.headers)

    async def regenerate(self, lane: Lane, rnd: int) -> None:
        self.exercised.add(REGENERATE)
        events: list[tuple[str, dict[str, Any]]] = []
        async with aconnect_sse(self.client, "POST",
                                f"/v1/calendars/{lane.regen_calendar}/regenerate",
                                json={"unedited": True}, headers=lane.headers) as source:
            assert source.response.status_code == 200, await source.response.aread()
            async for sse in source.aiter_sse():
                events.append((sse.event, json.loads(sse.data)))
        assert events[0][0] == "run", events[:1]
        assert events[-1][0] == "done" and events[-1][1]["status"] == "completed", events[-2:]


KINDS: tuple[Callable[[Burst, Lane, int], Awaitable[None]], ...] = (
    Burst.patch_entry, Burst.generate, Burst.publish, Burst.export, Burst.feed,
    Burst.import_file, Burst.connections, Burst.media, Burst.manage, Burst.regenerate,
)


async def _append_spooled(spool_dir: Path, lanes: list[Lane], rnd: int) -> list[str]:
    """What another process on the host does while the database is away: spool a live publish
    of this round's spooled entry per lane. The server's drainer writes them beside the burst."""
    spool = Spool(spool_dir)
    keys = []
    for lane in lanes:
        key = spooled.spool_key(lane.user, f"spooled-{lane.user}-{rnd}")
        data = {"userId": lane.user, "calendarId": str(lane.calendar_id),
                "body": {"entry_ids": [str(lane.spooled[rnd])], "channels": None,
                         "dry_run": False, "when": "now", "privacy_level": None},
                "idempotencyKey": f"spooled-{lane.user}-{rnd}", "requestId": None}
        await spool.append_async(key, spooled.KIND, data)
        keys.append(key)
    return keys


async def _seed_stale_runs(store: RunStore, lanes: list[Lane]) -> list[uuid.UUID]:
    """Runs left `running` by a crashed process, for the sweeper to settle during the burst."""
    ids = []
    old = utcnow() - dt.timedelta(hours=1)
    async with store.maker() as session:
        for lane in lanes:
            run_id = uuid.uuid4()
            ids.append(run_id)
            session.add(CalendarRun(id=run_id, calendar_id=lane.calendar_id, user_id=lane.user,
                                    mode="planner", status=RunStatus.running.value,
                                    dry_run=False, brief={}, expected_entries=1, entry_count=0,
                                    heartbeat_at=old, created_at=old, updated_at=old))
        await session.commit()
    return ids


async def _wait_for(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


async def test_every_write_path_at_once_answers_no_5xx_and_loses_nothing(
    settings_factory: Callable[..., Settings], db_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, PUBLISH_SERVICE_ENABLED=True,
                                WORKER_POLL_SECONDS=0.05, **APP_CREDS)
    lanes = [Lane(i) for i in range(LANES)]
    await _seed(db_url, lanes)
    app = create_app(settings, migrate=False, run_worker=True)
    app.state.channel_gateway = StubGateway()
    # A second "process" writing beside the server: the generation sweeper of a CLI run.
    other = create_engine(db_url)
    sweeper = RunStore(create_sessionmaker(other))
    spool_keys: list[str] = []
    stale: list[uuid.UUID] = []
    failures: list[BaseException] = []
    try:
        with live_server(app) as server:
            burst = Burst(server.url)
            async with burst.client:
                for lane in lanes:  # the TikTok connection the live publishes need
                    await burst.expect(
                        CONNECT, 200, "PUT", "/v1/channels/tiktok/connection",
                        headers=lane.headers, json={"accessToken": f"act.{lane.user}.tt.secret",
                                                    "accountId": f"{lane.user}-tt"})
                for rnd in range(ROUNDS):
                    stale += await _seed_stale_runs(sweeper, lanes)
                    spool_keys += await _append_spooled(settings.spool_dir, lanes, rnd)
                    jobs: list[Awaitable[object]] = [kind(burst, lane, rnd) for kind in KINDS
                                                     for lane in lanes]
                    jobs.append(sweeper.sweep(dt.timedelta(minutes=10)))
                    failures += [f for f in await asyncio.gather(*jobs, return_exceptions=True)
                                 if isinstance(f, BaseException)]
                # The whole picture in one message: every 5xx, then every other failure.
                errors = burst.server_errors()
                failed = [f"{type(f).__name__}: {str(f)[:300]}" for f in failures]
                assert not errors and not failed, (
                    f"{len(errors)} answers were 5xx:\n" + "\n".join(errors)
                    + f"\n{len(failed)} other failures:\n" + "\n".join(failed))
                assert burst.exercised == EXERCISED

                async def feeds_work() -> bool:
                    for lane in lanes:
                        resp = await burst.client.get(f"/v1/feeds/{lane.feed_token}.ics")
                        if resp.status_code != 200:
                            return False
                    return True

                assert await feeds_work()
                engine = create_engine(db_url)
                try:
                    await _check_landed(engine, lanes, spool_keys, stale)
                finally:
                    await engine.dispose()
                assert burst.server_errors() == []
    finally:
        await sweeper.close()
        await other.dispose()
    logged = capsys.readouterr()
    lines = (logged.err + logged.out).lower()
    assert "database is locked" not in lines
    assert "http.unhandled_error" not in lines


async def _check_landed(engine: Any, lanes: list[Lane], spool_keys: list[str],
                        stale: list[uuid.UUID]) -> None:
    """Every write of the burst is in the database, exactly once."""
    async def scalar(stmt: Any) -> Any:
        async with engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one()

    e, c = CalendarEntry, intents.c
    for lane in lanes:
        # PATCH: one version per edit; import: one update per round, one new row per round.
        assert await scalar(select(e.version).where(e.id == lane.patch_target)) == 1 + ROUNDS
        assert await scalar(select(e.caption).where(e.id == lane.patch_target)) == \
            f"edited in round {ROUNDS - 1}"
        assert await scalar(select(e.version).where(e.id == lane.import_target)) == 1 + ROUNDS
        assert await scalar(select(func.count()).select_from(e).where(
            e.id.in_(lane.imported))) == ROUNDS
        # Generation: every run completed with all its entries saved.
        for run_id, expected in lane.expected_run_entries.items():
            rid = uuid.UUID(run_id)
            assert await scalar(select(CalendarRun.status).where(CalendarRun.id == rid)) == \
                "completed"
            assert await scalar(select(func.count()).select_from(e).where(
                e.run_id == rid)) == expected
        # Publish: one live intent per round's entry, over HTTP and through the spool; the
        # worker published them all.
        async def published(lane: Lane = lane) -> bool:
            n = await scalar(select(func.count()).select_from(intents).where(
                c.user_id == lane.user, c.dry_run.is_(False), c.status == "published"))
            return int(n) == 2 * ROUNDS

        assert await _wait_for(published)
        live = await scalar(select(func.count()).select_from(intents).where(
            c.user_id == lane.user, c.dry_run.is_(False), c.entry_id.in_(lane.live + lane.spooled)))
        assert live == 2 * ROUNDS
        # The intents settled by hand: cancelled, resolved (failed, not published), retried.
        for ids, status in ((lane.to_cancel, "cancelled"), (lane.to_resolve, "failed"),
                            (lane.to_retry, "pending")):
            assert await scalar(select(func.count()).select_from(intents).where(
                c.id.in_(ids), c.status == status)) == ROUNDS, status
        assert await scalar(select(func.count()).select_from(intents).where(
            c.user_id == lane.user, c.dry_run.is_(True))) > 0
        k = idempotency_keys.c
        assert await scalar(select(func.count()).select_from(idempotency_keys).where(
            k.user_id == lane.user, k.state == "done")) == 2 * ROUNDS
        # Connections: TikTok kept, Instagram reconnected by the last OAuth callback.
        cc = connections.c
        assert await scalar(select(cc.account_id).where(
            cc.user_id == lane.user, cc.channel == "instagram")) == f"acct-{lane.user}-{ROUNDS - 1}"
        assert await scalar(select(func.count()).select_from(oauth_states).where(
            oauth_states.c.user_id == lane.user, oauth_states.c.used_at.is_not(None))) == ROUNDS
    # The spooled publishes were all drained into intents.
    assert await scalar(select(func.count()).select_from(intents).where(
        intents.c.dedupe_key.is_not(None))) == len(spool_keys)
    # The sweeper (here or in the server) settled every stale run.
    assert await scalar(select(func.count()).select_from(CalendarRun).where(
        CalendarRun.id.in_(stale), CalendarRun.status == "failed")) == len(stale)


def _sqlite_path(db_url: str) -> str:
    return db_url.split(":///", 1)[1]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_lock_held_past_the_busy_timeout_is_503_and_reads_go_on(
    settings_factory: Callable[..., Settings], db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process holds SQLite's write lock longer than busy_timeout: a write answers
    503 `database_busy` with Retry-After (never 500, never a silent dry run), reads still
    answer, and the same write succeeds once the lock is gone."""
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    lanes = [Lane(0)]
    await _seed(db_url, lanes)
    lane = lanes[0]
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True)
    url = f"/v1/calendars/{lane.calendar_id}/entries/{lane.patch_target}"
    brief = {"brand": "Locked", "startDate": "2027-01-04", "days": 3, "channels": ["tiktok"],
             "calendarId": str(lane.calendar_id)}
    with live_server(build_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            holder = sqlite3.connect(_sqlite_path(db_url), isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")
                for method, path, kwargs in (
                    ("PATCH", url, {"json": {"caption": "blocked"}}),
                    ("POST", "/v1/ai/calendar", {"json": brief}),
                    ("POST", f"/v1/calendars/{lane.calendar_id}/feed", {}),
                ):
                    busy = await client.request(method, path, headers=lane.headers, **kwargs)
                    assert busy.status_code == 503, (path, busy.text)
                    assert busy.headers["content-type"].startswith("application/problem+json")
                    assert busy.json()["code"] == "database_busy"
                    assert busy.headers["retry-after"] == "1"
                read = await client.get(f"/v1/calendars/{lane.calendar_id}",
                                        headers=lane.headers)
                assert read.status_code == 200
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            done = await client.patch(url, json={"caption": "after"}, headers=lane.headers)
            assert done.status_code == 200
            assert done.json()["version"] == 2  # the refused edit left no trace


async def test_lock_contention_is_recognised_on_both_databases(db_url: str,
                                                               backend: str) -> None:
    """`is_database_busy` on the errors the drivers really raise (and not on other errors)."""
    lanes = [Lane(0)]
    await _seed(db_url, lanes)
    one, two = create_engine(db_url), create_engine(db_url)
    try:
        async with one.connect() as holder:
            await holder.execute(select(Calendar.id).with_for_update())  # Postgres row lock
            if backend == "sqlite":
                await holder.exec_driver_sql("UPDATE calendars SET name = name")  # write lock
            async with two.connect() as conn:
                if backend == "sqlite":
                    await conn.exec_driver_sql("PRAGMA busy_timeout=0")
                    contend = conn.exec_driver_sql("UPDATE calendars SET name = name")
                else:
                    contend = conn.execute(select(Calendar.id).with_for_update(nowait=True))
                with pytest.raises(DBAPIError) as caught:
                    await contend
            assert db_module.is_database_busy(caught.value)
            await holder.rollback()
        async with two.connect() as conn:
            with pytest.raises(DBAPIError) as other:
                await conn.exec_driver_sql("SELECT * FROM no_such_table")
        assert not db_module.is_database_busy(other.value)
    finally:
        await one.dispose()
        await two.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_an_oauth_token_exchange_holds_no_write_lock(
    settings_factory: Callable[..., Settings], db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the platform is slow to trade the login code for tokens, other writes go on: the
    callback spends the state and commits before the network call."""
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    lanes = [Lane(0)]
    await _seed(db_url, lanes)
    lane = lanes[0]
    gateway = StubGateway()
    oauth = gateway.oauths["instagram"]
    real_exchange = oauth.exchange_code
    entered, release = threading.Event(), threading.Event()

    async def slow_exchange(code: str, redirect_uri: str,
                            code_verifier: str | None = None) -> TokenSet:
        entered.set()
        await asyncio.to_thread(release.wait, 10)
        return await real_exchange(code, redirect_uri, code_verifier=code_verifier)

    monkeypatch.setattr(oauth, "exchange_code", slow_exchange)
    app = build_app(settings_factory(**APP_CREDS))
    app.state.channel_gateway = gateway
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            start = await client.get("/v1/channels/instagram/oauth/start", headers=lane.headers)
            callback = asyncio.create_task(client.get(
                "/v1/channels/instagram/oauth/callback",
                params={"code": "slow", "state": start.json()["state"]}))
            try:
                assert await asyncio.to_thread(entered.wait, 10)
                edit = await client.patch(
                    f"/v1/calendars/{lane.calendar_id}/entries/{lane.patch_target}",
                    json={"caption": "while the platform thinks"}, headers=lane.headers)
                assert edit.status_code == 200, edit.text
            finally:
                release.set()
            connected = await callback
            assert connected.status_code == 200, connected.text
            assert connected.json()["accountId"] == "acct-slow"
