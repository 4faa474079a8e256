"""The richer brief through the real SSE endpoint: a German brief gets German copy with German
occasions, the `run` event says how postsPerWeek was read, bad briefs get named 422 codes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.contract.helpers import (
    ALICE,
    ON,
    SettingsFactory,
    assert_problem,
    generate,
    of,
    served,
)


def _german_brief(**overrides: Any) -> dict[str, Any]:
    # The window holds Advent, Nikolaus, Heiligabend and Silvester of the next December.
    today = dt.datetime.now(dt.UTC).date()
    year = today.year + (today >= dt.date(today.year, 11, 20))
    # Closed on a weekday that none of the December occasions (nor Sunday's Advent) falls on.
    taken = {dt.date(year, 12, d).weekday() for d in (6, 24, 31)} | {6}
    closed = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday")[
        min(set(range(6)) - taken)]
    body: dict[str, Any] = {
        "brand": "Bohnenglück", "niche": "Specialty-Coffee-Café in Berlin",
        "audience": "Berliner Kaffeefans zwischen 22 und 40", "goals": "mehr Besuche im Café",
        "channels": ["tiktok", "instagram"], "startDate": f"{year}-11-26", "days": 37,
        "timezone": "Europe/Berlin", "country": "DE", "language": "de",
        "postsPerWeek": 10, "closedDays": [closed],
        "observances": {"region": "DE-BE", "exclude": ["Black Friday"]},
        "offers": [{"name": "Winterröstung", "link": "https://bohnenglueck.example/winter"}],
    }
    body.update(overrides)
    return body


async def test_german_brief_gets_german_copy_and_occasions(
    settings_factory: SettingsFactory,
) -> None:
    async with served(settings_factory(**ON)) as (_app, client):
        events = await generate(client, _german_brief(), ALICE)
        run = events[0].data
        assert run["postsPerWeekMode"] == "total"
        assert run["postsPerWeek"] == {"tiktok": 6, "instagram": 4}
        entries = [e.data["entry"] for e in of(events, "entry")]
        assert len(entries) == run["expectedEntries"] > 40
        hooks = " ".join(e["hook"] for e in entries)
        captions = " ".join(e["caption"] for e in entries)
        for occasion in ("Advent", "Nikolaus", "Heiligabend", "Silvester"):
            assert occasion in hooks, occasion
        assert "Black Friday" not in hooks and "Giving Tuesday" not in hooks
        assert " und " in captions and " the " not in captions
        assert "22 und 40" not in captions  # the audience chooses words, it is never pasted
        closed = _german_brief()["closedDays"][0][:3]
        assert all(dt.datetime.fromisoformat(e["scheduledAt"]).strftime("%a").lower() != closed
                   for e in entries)
        ctas = {e["callToAction"] for e in entries}
        assert ctas & {"Komm vorbei und sag Hallo.", "Schau diese Woche bei uns rein."}
        tags = [t for e in entries for t in e["hashtags"]]
        assert "Berlin" in tags and not any(tags.count(t) == len(entries) for t in tags)


async def test_unplannable_briefs_get_named_codes(settings_factory: SettingsFactory) -> None:
    async with served(settings_factory(**ON)) as (_app, client):
        cases = [
            (_german_brief(language="ja"), "language_unsupported", "en, de, es, fr, pt"),
            (_german_brief(observances={"region": "US-CA"}), "region_not_in_country", "US-CA"),
            (_german_brief(closedDays=["sat", "sun"], postingWindows={
                "tiktok": [{"weekdays": ["sat", "sun"], "start": "10:00", "end": "12:00"}]}),
             "windows_closed_days_conflict", "sat, sun"),
            (_german_brief(postsPerWeek={"tiktok": 3}, closedDays=[], postingWindows={
                "tiktok": [{"weekdays": ["tue", "wed"], "start": "18:00", "end": "20:00"}]}),
             "posts_per_week_unfittable", "tue, wed"),
        ]
        for body, code, named in cases:
            resp = await client.post("/v1/ai/calendar", json=body, headers=ALICE)
            problem = assert_problem(resp, 422, code)
            assert named in problem["detail"], problem
        unknown = await client.post("/v1/ai/calendar", json=_german_brief(mood="cosy"),
                                    headers=ALICE)
        assert_problem(unknown, 422)  # unknown fields stay refused
