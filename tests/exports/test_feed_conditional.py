"""A conditional GET of the ICS feed costs one small query, not a render, through real uvicorn
on SQLite and Postgres; and the validators still change with every change of the calendar
(issue 12, item 6)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from postplan.config import Settings
from postplan.core.db import create_engine
from postplan.exports import service
from tests.exports.factories import seed_calendar
from tests.fakes.sse_client import live_app

pytestmark = [pytest.mark.timeout(120), pytest.mark.live]


class Probe:
    """Counts the SQL statements the app runs and the renders it starts."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.renders = 0
        self._lock = threading.Lock()

    @property
    def queries(self) -> list[str]:
        """The statements that read or write (transaction control left out: SQLite's BEGIN is
        sent as a statement, asyncpg's is not)."""
        control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
        return [s for s in self.statements if not s.lstrip().upper().startswith(control)]

    def reset(self) -> None:
        with self._lock:
            self.statements.clear()
            self.renders = 0


@contextmanager
def probed(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Probe]:
    probe = Probe()
    engine = app.state.engine.sync_engine

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with probe._lock:
            probe.statements.append(statement)

    real_render = service.render

    async def counting_render(*args: Any, **kwargs: Any) -> Any:
        with probe._lock:
            probe.renders += 1
        return await real_render(*args, **kwargs)

    monkeypatch.setattr(service, "render", counting_render)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield probe
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


async def _cheap_304(client: httpx.AsyncClient, probe: Probe, path: str,
                     headers: dict[str, str], method: str = "GET") -> httpx.Response:
    probe.reset()
    resp = await client.request(method, path, headers=headers)
    assert resp.status_code == 304, (headers, resp.status_code, resp.text)
    assert resp.content == b""
    assert probe.renders == 0
    assert len(probe.queries) == 1, probe.statements
    assert "calendar_entries" in probe.queries[0]  # the one aggregate, no entry rows
    return resp


async def test_a_304_is_one_query_and_no_render(
    settings_factory: Callable[..., Settings], db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded = await seed_calendar(db_url, entries=300)
    async with live_app(settings_factory(PUBLISH_SERVICE_ENABLED=True)) as (app, client):
        token = (await client.post(f"/v1/calendars/{seeded.calendar_id}/feed")).json()["token"]
        path = f"/v1/feeds/{token}.ics"
        with probed(app, monkeypatch) as probe:
            first = await client.get(path)
            assert first.status_code == 200 and probe.renders == 1
            etag, modified = first.headers["etag"], first.headers["last-modified"]
            same = await _cheap_304(client, probe, path, {"If-None-Match": etag})
            assert same.headers["etag"] == etag
            assert same.headers["last-modified"] == modified
            assert same.headers["cache-control"] == first.headers["cache-control"]
            await _cheap_304(client, probe, path, {"If-None-Match": f'W/"x", {etag}'})
            await _cheap_304(client, probe, path, {"If-Modified-Since": modified})
            await _cheap_304(client, probe, path, {"If-None-Match": etag}, method="HEAD")
            # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
            probe.reset()
            stale = await client.get(path, headers={"If-None-Match": '"old"',
                                                    "If-Modified-Since": modified})
            assert stale.status_code == 200 and stale.headers["etag"] == etag


async def _edit_entry(client: httpx.AsyncClient, calendar_id: object, entry_id: object) -> None:
    resp = await client.patch(f"/v1/calendars/{calendar_id}/entries/{entry_id}",
                              json={"hook": "A new hook"})
    assert resp.status_code == 200, resp.text


async def _import_change(client: httpx.AsyncClient, calendar_id: object) -> None:
    doc = (await client.post(f"/v1/calendars/{calendar_id}/export",
                             json={"format": "json"})).json()
    doc["entries"][1]["caption"] = "Changed by an import"
    resp = await client.post("/v1/calendars/import", json=doc)
    assert resp.status_code == 200 and resp.json()["updated"] == 1, resp.text


async def _import_new(client: httpx.AsyncClient, calendar_id: object) -> None:
    doc = (await client.post(f"/v1/calendars/{calendar_id}/export",
                             json={"format": "json"})).json()
    new = dict(doc["entries"][0], id="0b3c1b8e-2f55-4d7e-9a51-6a3a8f1c2d40",
               caption="Added by an import")
    doc["entries"].append(new)
    doc["entryCount"] = len(doc["entries"])
    resp = await client.post("/v1/calendars/import", json=doc)
    assert resp.status_code == 200 and resp.json()["created"] == 1, resp.text


async def _delete_entry(db_url: str, entry_id: object) -> None:
    """No endpoint deletes entries yet: remove one the way any future path would (SQL)."""
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            ident = entry_id if db_url.startswith("postgres") else str(entry_id).replace("-", "")
            await conn.execute(text("DELETE FROM entry_revisions WHERE entry_id = :id"),
                               {"id": ident})
            result = await conn.execute(text("DELETE FROM calendar_entries WHERE id = :id"),
                                        {"id": ident})
            assert getattr(result, "rowcount", 0) == 1
    finally:
        await engine.dispose()


async def test_every_change_moves_the_validators(
    settings_factory: Callable[..., Settings], db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded = await seed_calendar(db_url, entries=6)
    cal = seeded.calendar_id
    async with live_app(settings_factory(PUBLISH_SERVICE_ENABLED=True)) as (app, client):
        token = (await client.post(f"/v1/calendars/{cal}/feed")).json()["token"]
        path = f"/v1/feeds/{token}.ics"
        changes: list[tuple[str, Callable[[], Any]]] = [
            ("edit", lambda: _edit_entry(client, cal, seeded.entry_ids[0])),
            ("import update", lambda: _import_change(client, cal)),
            ("import insert", lambda: _import_new(client, cal)),
            ("delete", lambda: _delete_entry(db_url, seeded.entry_ids[2])),
        ]
        with probed(app, monkeypatch) as probe:
            current = await client.get(path)
            old_date = current.headers["last-modified"]
            await _cheap_304(client, probe, path, {"If-Modified-Since": old_date})
            seen = {current.headers["etag"]}
            for name, change in changes:
                etag = current.headers["etag"]
                await _cheap_304(client, probe, path, {"If-None-Match": etag})
                await change()
                after = await client.get(path, headers={"If-None-Match": etag})
                assert after.status_code == 200, name
                assert after.headers["etag"] not in seen, name
                seen.add(after.headers["etag"])
                # The new body is what the new ETag names, and it is cheap again at once.
                await _cheap_304(client, probe, path, {"If-None-Match": after.headers["etag"]})
                current = after
            unfolded = current.content.replace(b"\r\n ", b"")  # ICS folds long lines
            assert b"A new hook" in unfolded
            assert b"Changed by an import" in unfolded
            assert b"Added by an import" in current.content
            # The changes moved Last-Modified too: the old date no longer gives a 304.
            by_date = await client.get(path, headers={"If-Modified-Since": old_date})
            assert by_date.status_code == 200
