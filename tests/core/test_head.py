"""HEAD is answered wherever GET is: same status and headers, no body (issue 12, item 7)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute

from postplan.config import Settings
from tests.fixtures.apps import build_app
from tests.fixtures.factories import seed_calendar

#: Routes that exist only to answer 405 for GET/HEAD on a POST-only path that another route's
#: template would otherwise match (`/calendars/import` is not a calendar id, `/media/uploads`
#: not a media id).
POST_ONLY_GUARDS = {"/v1/calendars/import", "/v1/media/uploads"}


def get_paths(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    """The path templates of every route that answers GET, included routers walked."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI's included router
            context = getattr(route, "include_context", None)
            yield from get_paths(original.routes, prefix + getattr(context, "prefix", ""))
            continue
        methods = getattr(route, "methods", None) or set()
        path = prefix + str(route.path)  # type: ignore[attr-defined]
        if "GET" in methods and path not in POST_ONLY_GUARDS:
            yield path


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("transport", ["live"], indirect=True)
async def test_every_get_route_answers_head(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Settings], db_url: str,
) -> None:
    seeded = await seed_calendar(db_url, user_id="local", entries=2)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True)
    app: FastAPI = build_app(settings)
    templates = sorted(set(get_paths(app.routes)))
    assert "/v1/feeds/{token}.ics" in templates and "/healthz" in templates
    async with client_factory(settings) as client:
        token = (await client.post(f"/v1/calendars/{seeded.calendar_id}/feed")).json()["token"]
        values = {"calendar_id": str(seeded.calendar_id), "run_id": str(seeded.run_id),
                  "intent_id": str(uuid.uuid4()), "channel": "tiktok", "token": token}
        checked = []
        for template in templates:
            path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "x"), template)
            got = await client.get(path, follow_redirects=False)
            head = await client.head(path, follow_redirects=False)
            assert head.status_code == got.status_code != 405, (template, got.status_code,
                                                                head.status_code)
            assert head.content == b"", template
            assert head.headers.get("content-type") == got.headers.get("content-type"), template
            checked.append((template, got.status_code))
    statuses = dict(checked)
    # The check covered real answers, not only 404s.
    assert statuses["/v1/feeds/{token}.ics"] == 200
    assert statuses["/v1/calendars/{calendar_id}"] == 200
    assert statuses["/healthz"] == 200


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("transport", ["live"], indirect=True)
async def test_head_of_a_stream_ends_after_the_headers(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Settings], db_url: str,
) -> None:
    """HEAD of an SSE replay answers its headers and ends at once (the stream behind it stops),
    and the connection serves the next request."""
    seeded = await seed_calendar(db_url, user_id="local", entries=2)
    async with client_factory(settings_factory()) as client:
        path = f"/v1/ai/calendar/runs/{seeded.run_id}/events"
        head = await client.head(path)
        assert head.status_code == 200
        assert head.headers["content-type"].startswith("text/event-stream")
        assert head.content == b""
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.request("HEAD", "/v1/calendars", headers={"X-User-Id": "local"})
                ).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("transport", ["inprocess"], indirect=True)
async def test_head_of_a_post_only_route_is_405_like_get(client: httpx.AsyncClient) -> None:
    got = await client.get("/v1/ai/calendar")
    resp = await client.head("/v1/ai/calendar")
    assert resp.status_code == got.status_code == 405
    assert resp.headers["allow"] == got.headers["allow"]
    assert resp.content == b""
