"""Shared offline measures: UTF-16 length, hashtags, mentions, media URLs, backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from postplan.channels import MediaRef, backoff_delay, retry_after_seconds
from postplan.channels.ratelimit import RateLedger
from postplan.channels.text import count_hashtags, count_mentions
from postplan.channels.validation import check_media_urls
from postplan.core.text import utf16_len
from tests.channels.helpers import NOW, request


def test_utf16_counts_astral_characters_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2
    assert utf16_len("é") == 1


def test_tiktok_caption_limit_is_in_utf16_units() -> None:
    from postplan.channels.tiktok.rules import validate_request

    ok = request("tiktok", "video", caption="😀" * 1100)  # 1100 chars, 2200 units
    assert validate_request(ok, now=NOW, posts_in_last_24h=0) == []
    long = request("tiktok", "video", caption="😀" * 1101)  # 1101 chars, 2202 units
    assert [f.code for f in validate_request(long, now=NOW, posts_in_last_24h=0)] == [
        "caption_too_long"]


def test_hashtags_and_mentions() -> None:
    text = "Hi @ana and @bo.b! #one #two#three email a@b.c #"
    assert count_hashtags(text) == 2
    assert count_mentions(text) == 2


@pytest.mark.parametrize(("url", "ok"), [
    ("https://cdn.example.com/a.jpg", True),
    ("http://127.0.0.1:9000/media/a.mp4", True),  # local fakes and dev
    ("http://cdn.example.com/a.jpg", False),
    ("https://203.0.113.9/a.jpg", False),
    ("https://cdn.example.com/ä.jpg", False),
    ("ftp://cdn.example.com/a.jpg", False),
    ("/relative.jpg", False),
    ("http://localhost:9000/media/a.mp4", True),
    ("https://cdn.example.com./a.jpg", True),
    # IP addresses in the forms resolvers also take, and names only a private network knows.
    ("https://2130706433/a.jpg", False),
    ("https://127.1/a.jpg", False),
    ("https://0x7f.0x1/a.jpg", False),
    ("https://[fd00::1]/a.jpg", False),
    ("https://metadata.google.internal/a.jpg", False),
    ("https://intranet/a.jpg", False),
    ("https://printer.local/a.jpg", False),
    # Credentials in the URL, or a host hidden behind them.
    ("https://user:pw@cdn.example.com/a.jpg", False),
    ("https://cdn.example.com@169.254.169.254/a.jpg", False),
    # Not URLs at all.
    ("https://[::1/a.jpg", False),
    ("https://cdn.example.com:99999/a.jpg", False),
])
def test_media_urls(url: str, ok: bool) -> None:
    req = request("instagram", "image", media_refs=[MediaRef(url=url, type="image")])
    assert (check_media_urls(req) == []) is ok


def test_schedule_compares_naive_as_utc() -> None:
    from postplan.channels.validation import check_schedule

    req = request("instagram", "image", scheduled_at=datetime(2030, 1, 1))
    assert check_schedule(req, datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert not check_schedule(req, datetime(2029, 12, 31, tzinfo=UTC))


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, base=1, cap=30, rng=rng) for n in range(1, 9)]
    assert 0.5 <= delays[0] <= 1 and all(d <= 30 for d in delays)
    assert delays[5] >= 15


def test_retry_after_forms() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    now = datetime(2030, 1, 1, tzinfo=UTC)
    date = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": date}),
                               now=now) == 90.0
    assert retry_after_seconds(httpx.Response(429, headers={"X-RateLimit-Reset": "5"})) == 5.0
    assert retry_after_seconds(httpx.Response(429)) is None


def test_rate_ledger_window() -> None:
    t = [0.0]
    ledger = RateLedger(clock=lambda: t[0])
    assert [ledger.acquire("k", "init", 2) for _ in range(2)] == [0.0, 0.0]
    assert ledger.acquire("k", "init", 2) == pytest.approx(60.0)
    assert ledger.acquire("other", "init", 2) == 0.0
    t[0] = 60.5
    assert ledger.acquire("k", "init", 2) == 0.0
