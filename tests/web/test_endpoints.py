"""The page and its static files are served by the app itself (no CDN, no build step)."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from typing import Any

from postplan.config import Settings
from tests.fixtures.apps import build_app, in_process_client

STATIC_FILES = ["index.html", "app.css", "app.js", "api.js", "sse.js", "grid.js", "editor.js",
                "actions.js"]


async def test_index_and_static_files(settings_factory: Callable[..., Settings]) -> None:
    async with in_process_client(build_app(settings_factory())) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        html = page.text
        for label in ["Brand", "Niche", "Audience", "Goals", "Start date", "Days",
                      "Posts per week", "Timezone", "Pillars", "Language", "Country"]:
            assert re.search(rf"<label for=\"[^\"]+\">{label}</label>", html), label
        assert re.search(r"<legend[^>]*>Channels</legend>", html)
        assert ">Generate</button>" in html
        for name in STATIC_FILES[1:]:
            res = await client.get(f"/static/{name}")
            assert res.status_code == 200, name
        assert (await client.get("/static/app.js")).headers["content-type"].startswith(
            "text/javascript")


async def test_page_needs_no_external_network(settings_factory: Callable[..., Settings]) -> None:
    async with in_process_client(build_app(settings_factory())) as client:
        for name in STATIC_FILES:
            text = (await client.get("/" if name == "index.html" else f"/static/{name}")).text
            assert not re.search(r"(src|href)=\"(https?:)?//", text), name
            assert "fonts.googleapis" not in text and "cdn" not in text.lower(), name
            assert "@import url(http" not in text, name


async def test_missing_static_file_is_a_problem(settings_factory: Callable[..., Settings]) -> None:
    async with in_process_client(build_app(settings_factory())) as client:
        res = await client.get("/static/nope.js")
        assert res.status_code == 404
        assert res.headers["content-type"].startswith("application/problem+json")
        api = await client.get("/v1/calendars")
        assert api.status_code == 200  # the page's router does not shadow the API


def test_static_files_are_package_data() -> None:
    root: Any = resources.files("postplan.web") / "static"
    for name in STATIC_FILES:
        assert (root / name).is_file(), name
