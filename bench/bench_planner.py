"""Offline planner speed: a whole calendar (slots + copy) per brief, vs building the slots alone.

Figures (median and p95 over repeated runs, each with a fresh seed so no cache answers for it):
* `planner.calendar_30d_*`: 30 days, TikTok + Instagram at the default cadence (~30 entries).
* `planner.calendar_92d_*`: 92 days, both channels at 7/week (184 entries, the largest brief).
* baseline: `plan_slots` alone for the same briefs (dates, DST, pillars, formats, observances).
* `*_cpu_median_ms`: process CPU time, which a loaded shared machine does not inflate.
* `planner.calendar_92d_<lang>_cpu_median_ms` (and wall `_median_ms`): the 92-day,
  7/week/channel calendar written in each planner language (en, de, es, fr, pt; issue 16:
  < 100 ms of planner time each).
* `planner.warm_up_ms`: `warm_up()` in a fresh process (data files + the holidays machinery), and
  `planner.first_calendar_after_warm_up_ms`: the first calendar after it.

    .venv/bin/python -m bench.bench_planner [--quick]     # prints a table
    .venv/bin/python -m bench.run --only planner           # through the shared runner
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.helpers import row
from postplan.generation.planner import plan_entries, warm_up
from postplan.generation.planner import slots as slots_module
from postplan.generation.schemas import Brief
from postplan.generation.scoring import score_calendar

TARGET_30D_MS = 100.0  # issue 3: a 30-day calendar in <= 100 ms of server time
TARGET_92D_LANGUAGE_MS = 100.0  # issue 16: a 92-day calendar in each language < 100 ms
LANGUAGES = ("en", "de", "es", "fr", "pt")


def _brief(days: int, ppw: int | None, seed: int, language: str = "en") -> Brief:
    return Brief.model_validate({
        "brand": "Bean There ☕", "niche": "specialty coffee", "audience": "home baristas",
        "goals": "grow the newsletter", "startDate": "2026-10-12", "days": days,
        # per channel: a bare number is a total across channels since issue 16
        "postsPerWeek": None if ppw is None else {"tiktok": ppw, "instagram": ppw},
        "timezone": "Europe/Berlin", "country": "DE", "language": language,
        "channels": ["tiktok", "instagram"], "seed": f"bench-{seed}",
    })


def _times(fn: Callable[[Brief], object], briefs: list[Brief]) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) per brief. CPU time is reported too because a shared, loaded machine
    inflates wall time without the planner doing more work."""
    wall, cpu = [], []
    for brief in briefs:
        slots_module._CACHE.clear()  # measure planning, not the per-process plan cache
        started, started_cpu = time.perf_counter(), time.process_time()
        fn(brief)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def run(quick: bool) -> list[dict[str, Any]]:
    """Run the benchmark; `quick` means fewer repetitions."""
    repeats = 30 if quick else 200
    started = time.perf_counter()
    warm_up()
    warm = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    first = plan_entries(_brief(30, None, -1))
    cold = (time.perf_counter() - started) * 1000
    rows = [row("planner.warm_up_ms", warm, "ms", target="once per process, at start-up"),
            row("planner.first_calendar_after_warm_up_ms", cold, "ms")]
    for label, days, ppw in (("30d", 30, None), ("92d", 92, 7)):
        briefs = [_brief(days, ppw, i) for i in range(repeats)]
        plan_entries(briefs[0])  # warm imports for this size
        full, full_cpu = _times(plan_entries, briefs)
        base, base_cpu = _times(slots_module.plan_slots, briefs)
        entries = len(plan_entries(briefs[0]))
        med, base_med = statistics.median(full), statistics.median(base)
        target = f"<= {TARGET_30D_MS:.0f} ms" if label == "30d" else None
        ok = _p95(full) <= TARGET_30D_MS if label == "30d" else None
        rows.append(row(f"planner.calendar_{label}_median_ms", med, "ms", baseline=base_med,
                        target=target, ok=ok))
        rows.append(row(f"planner.calendar_{label}_p95_ms", _p95(full), "ms",
                        baseline=_p95(base), target=target, ok=ok))
        rows.append(row(f"planner.calendar_{label}_cpu_median_ms", statistics.median(full_cpu),
                        "ms", baseline=statistics.median(base_cpu)))
        rows.append(row(f"planner.calendar_{label}_entries", entries, "entries",
                        better="higher"))
        score_times = []
        for brief in briefs[: max(5, repeats // 10)]:
            calendar = plan_entries(brief)
            t0 = time.perf_counter()
            assert score_calendar(brief, calendar).passed
            score_times.append((time.perf_counter() - t0) * 1000)
        rows.append(row(f"planner.score_{label}_median_ms", statistics.median(score_times), "ms"))
    for language in LANGUAGES:
        briefs = [_brief(92, 7, i, language) for i in range(max(10, repeats // 10))]
        plan_entries(briefs[0])
        wall, cpu = _times(plan_entries, briefs)
        # CPU time is the planner's own time; wall time on a loaded shared machine is not.
        cpu_med = statistics.median(cpu)
        rows.append(row(f"planner.calendar_92d_{language}_cpu_median_ms", cpu_med, "ms",
                        target=f"< {TARGET_92D_LANGUAGE_MS:.0f} ms",
                        ok=cpu_med < TARGET_92D_LANGUAGE_MS))
        rows.append(row(f"planner.calendar_92d_{language}_median_ms", statistics.median(wall),
                        "ms"))
    assert first
    return rows


def main() -> None:
    quick = "--quick" in sys.argv
    rows = run(quick)
    width = max(len(r["name"]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>9}  unit     {'baseline':>9}  {'ratio':>7}  target")
    for r in rows:
        base = "-" if r["baseline"] is None else f"{r['baseline']:.3f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['name']:<{width}}  {r['value']:>9.3f}  {r['unit']:<7}  {base:>9}  {ratio:>7}  "
              f"{r['target'] or '-'}")


if __name__ == "__main__":
    main()
