"""Copy quality as numbers: the offline planner over a fixed set of briefs (docs/quality.md).

Runs the planner on every `bench/briefs/*.json`, measures each calendar with
`generation.scoring.quality.quality_report`, prints one row per brief plus the mean, and compares
the means with the committed `bench/quality_baseline.json`. A metric that got worse than its
baseline by more than `--tolerance` (absolute, default 0.02) is a regression: exit status 1.
The planner is deterministic for a seeded brief, so the figures do not move between runs or
machines; any move is a change in the copy.

    .venv/bin/python -m bench.quality                    # table + comparison, exit 1 on regression
    .venv/bin/python -m bench.quality --update-baseline  # after a deliberate improvement
    .venv/bin/python -m bench.quality --json             # the figures as JSON
    .venv/bin/python -m bench.run --only quality         # through the shared runner
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from postplan.generation.planner import plan_entries
from postplan.generation.schemas import Brief
from postplan.generation.scoring.quality import HIGHER_IS_BETTER, quality_report

BENCH_DIR = Path(__file__).resolve().parent
BRIEFS = BENCH_DIR / "briefs"
BASELINE = BENCH_DIR / "quality_baseline.json"
TOLERANCE = 0.02
#: Short column names for the table.
SHORT = {
    "grammar_issue_rate": "grammar↓", "off_niche_rate": "offniche↓",
    "hashtag_invalid_rate": "tagbad↓", "hashtag_top_share": "toptag↓",
    "hashtag_distinct_ratio": "tagvar↑", "cta_goal_fit": "ctafit↑",
    "cta_conflict_rate": "ctaclash↓", "foreign_occasion_rate": "foreign↓",
    "occasion_recall": "occas↑", "distinct_hook_ratio": "hooks↑",
    "distinct_opener_ratio": "openers↑", "language_mismatch_rate": "lang↓",
}


def load_briefs() -> dict[str, Brief]:
    """The fixed briefs, by file name, sorted."""
    return {p.stem: Brief.model_validate(json.loads(p.read_text()))
            for p in sorted(BRIEFS.glob("*.json"))}


def measure() -> dict[str, Any]:
    """{"briefs": {name: {entries, metrics, examples}}, "mean": {metric: value}}."""
    per: dict[str, Any] = {}
    for name, brief in load_briefs().items():
        try:
            entries = plan_entries(brief)
        except Exception as exc:  # a brief the planner refuses is a failure, not a skip
            per[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        per[name] = quality_report(brief, entries).as_dict()
    scored = [r["metrics"] for r in per.values() if "metrics" in r]
    mean = {m: round(sum(r[m] for r in scored) / len(scored), 4) if scored else 0.0
            for m in HIGHER_IS_BETTER}
    return {"briefs": per, "mean": mean}


def compare(mean: dict[str, float], baseline: dict[str, float],
            tolerance: float) -> dict[str, str]:
    """metric → `ok` / `improved` / `REGRESSED` / `new` against the baseline means."""
    verdicts: dict[str, str] = {}
    for metric, value in mean.items():
        if metric not in baseline:
            verdicts[metric] = "new"
            continue
        delta = value - baseline[metric]
        if not HIGHER_IS_BETTER[metric]:
            delta = -delta
        verdicts[metric] = ("REGRESSED" if delta < -tolerance
                            else "improved" if delta > tolerance else "ok")
    return verdicts


def render(result: dict[str, Any], baseline: dict[str, float], verdicts: dict[str, str],
           console: Console) -> None:
    table = Table(title="copy quality (offline planner)")
    table.add_column("brief", no_wrap=True)
    table.add_column("n", justify="right")
    for metric in HIGHER_IS_BETTER:
        table.add_column(SHORT[metric], justify="right")
    for name, r in result["briefs"].items():
        if "error" in r:
            table.add_row(name, "-", f"[red]{r['error'][:60]}[/]")
            continue
        table.add_row(name, str(r["entries"]),
                      *(f"{r['metrics'][m]:.2f}" for m in HIGHER_IS_BETTER))
    table.add_row("[bold]mean[/]", "", *(f"[bold]{result['mean'][m]:.3f}[/]"
                                         for m in HIGHER_IS_BETTER))
    if baseline:
        table.add_row("baseline", "", *(f"{baseline[m]:.3f}" if m in baseline else "-"
                                        for m in HIGHER_IS_BETTER))
        style = {"REGRESSED": "bold red", "improved": "green"}
        table.add_row("verdict", "", *(
            f"[{style[verdicts[m]]}]{verdicts[m]}[/]" if verdicts[m] in style else verdicts[m]
            for m in HIGHER_IS_BETTER))
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help="absolute worsening of a mean counted as a regression")
    parser.add_argument("--update-baseline", action="store_true",
                        help="write these means to bench/quality_baseline.json")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = measure()
    baseline: dict[str, float] = (json.loads(BASELINE.read_text())["mean"]
                                  if BASELINE.exists() else {})
    verdicts = compare(result["mean"], baseline, args.tolerance)
    if args.json:
        sys.stdout.write(json.dumps({**result, "verdicts": verdicts}, indent=2,
                                    ensure_ascii=False) + "\n")
    else:
        render(result, baseline, verdicts, Console(width=200))
    failed = [n for n, r in result["briefs"].items() if "error" in r]
    if args.update_baseline:
        BASELINE.write_text(json.dumps({"tolerance": args.tolerance, "mean": result["mean"],
                                        "briefs": {n: r.get("metrics") for n, r in
                                                   result["briefs"].items()}},
                                       indent=2, ensure_ascii=False) + "\n")
        print(f"updated {BASELINE.relative_to(BENCH_DIR.parent)}")
        return 2 if failed else 0
    regressed = [m for m, v in verdicts.items() if v == "REGRESSED"]
    if regressed:
        print(f"quality regressed beyond {args.tolerance}: {', '.join(regressed)}", file=sys.stderr)
    if failed:
        print(f"briefs the planner refused: {', '.join(failed)}", file=sys.stderr)
        return 2
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main())
