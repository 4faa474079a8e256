"""Feed tokens never reach a log line: redaction by route pattern, for every method, status,
spelling of the path, query string, Referer and error message (issue 12, item 7)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from postplan.core.logging import configure_logging, get_logger
from postplan.core.redact import path_secrets, redact_path, redact_text, remember_path_secrets
from tests.cli.serving import seed_calendar, served
from tests.core import rawhttp

TOKEN = "Zk3-Qx_9vLr2TtYp0aBcDeFgHiJkLmNoPqRsTuVwXyZ"


@pytest.mark.live
def test_feed_token_is_in_no_log_line_for_any_method_or_path(tmp_path: Path) -> None:
    with served(tmp_path, PUBLISH_SERVICE_ENABLED="true") as (url, log_file, db_url):
        calendar_id = seed_calendar(db_url, "feed-user")
        created = httpx.post(f"{url}/v1/calendars/{calendar_id}/feed",
                             headers={"X-User-Id": "feed-user"})
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        feed = f"/v1/feeds/{token}.ics"
        referer = {"Referer": f"https://calendar.example{feed}?from=app"}
        cases: list[tuple[str, str, dict[str, str], set[int]]] = [
            ("GET", feed, {}, {200}),
            ("HEAD", feed, {}, {200}),
            ("POST", feed, {}, {405}),
            ("PUT", feed, {}, {405}),
            ("PATCH", feed, {}, {405}),
            ("DELETE", feed, {}, {405}),
            ("OPTIONS", feed, {}, {405}),
            ("PROPFIND", feed, {}, {405}),
            ("GET", f"/v1/feeds/{token}", {}, {404}),
            ("GET", f"{feed}/extra", {}, {404}),
            ("GET", f"//v1//feeds/{token}.ics", {}, {404}),
            ("GET", f"/v1/Feeds/{token}.ics", {}, {404}),
            ("GET", f"/v1/feeds%2F{token}.ics", {}, {200, 404}),
            ("GET", f"{feed}?token={token}&x=1", {}, {200}),
            ("HEAD", f"/v1/feeds/{token}", {}, {404}),
            ("GET", f"/v1/calendars?cursor={token}", {"X-User-Id": "feed-user", **referer},
             {422}),
            ("GET", "/v1/flags", referer, {200}),
            ("GET", feed, {"If-None-Match": f'"{token}"', **referer}, {200}),
        ]
        for method, target, headers, expected in cases:
            status, raw = rawhttp.request(url, method, target, headers)
            assert status in expected, (method, target, raw[:300])
            if method == "HEAD":
                assert raw.endswith(b"\r\n\r\n"), "a HEAD answer carries no body"
        # A request line uvicorn cannot parse, quoting the token.
        bad, _ = rawhttp.request(url, "GET", f"{feed} HTTP/1.1 junk", {})
        assert bad in (0, 400)
    text = log_file.read_text(encoding="utf-8")
    assert token not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [r for r in lines if r["event"] == "http.request"]
    feed_lines = [r for r in access if "feeds" in r["path"].lower()]
    # Every feed request was logged (the line exists), with its method and a redacted path.
    assert {r["method"] for r in feed_lines} >= {"GET", "HEAD", "POST", "PUT", "PATCH",
                                                 "DELETE", "OPTIONS", "PROPFIND"}
    assert all("***" in r["path"] for r in feed_lines), feed_lines
    assert any(r["path"] == "/v1/feeds/***.ics" and r["status"] == 200 for r in feed_lines)


def test_paths_are_redacted_by_pattern() -> None:
    assert redact_path(f"/v1/feeds/{TOKEN}.ics") == "/v1/feeds/***.ics"
    assert redact_path(f"/v1/feeds/{TOKEN}") == "/v1/feeds/***"
    assert redact_path(f"//v1//FEEDS/{TOKEN}.ICS/more") == "//v1//FEEDS/***.ics"
    assert redact_path(f"/prefix/v1/feeds/{TOKEN}.ics") == "/prefix/v1/feeds/***.ics"
    assert TOKEN not in redact_path(f"/v1/feeds%2F{TOKEN}.ics")
    assert redact_path("/v1/calendars/abc") == "/v1/calendars/abc"
    assert redact_path("/v1/feeds") == "/v1/feeds"
    assert TOKEN in path_secrets(f"/v1/feeds/{TOKEN}.ics")
    for text in (f"Referer: https://x/v1/feeds/{TOKEN}.ics?a=b",
                 f"next=%2Fv1%2Ffeeds%2F{TOKEN}.ics",
                 f'"GET /v1/feeds/{TOKEN}.ics HTTP/1.1" 200'):
        assert TOKEN not in redact_text(text), text


def test_every_logger_and_traceback_is_redacted(tmp_path: Path) -> None:
    """Lines written while a feed request runs lose its token wherever it appears: a message,
    an exception's text, a field, uvicorn's access logger (should it ever be switched on)."""
    log_file = tmp_path / "app.log"
    configure_logging("INFO", log_file)
    access = logging.getLogger("uvicorn.access")
    try:
        remember_path_secrets(f"/v1/feeds/{TOKEN}.ics")
        log = get_logger("test")
        try:
            raise ValueError(f"token {TOKEN} was refused")
        except ValueError:
            log.exception("feed.failed", detail={"seen": [TOKEN]}, note=f"{TOKEN}!")
        logging.getLogger("uvicorn.error").warning("client sent %s", TOKEN)
        access.disabled = False
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET",
                    f"/v1/feeds/{TOKEN}.ics?x=1", "1.1", 200)
    finally:
        access.disabled = True
        remember_path_secrets("/")
        configure_logging("INFO")
    text = log_file.read_text(encoding="utf-8")
    assert "was refused" in text and "client sent" in text and "/v1/feeds/***.ics" in text
    assert TOKEN not in text
