"""Run every `bench/bench_*.py`, print one table, write results/latest.json, compare with
the committed baseline.json (see bench/README.md for the protocol).

    python -m bench.run [--quick] [--only a,b] [--tolerance 0.25] [--update-baseline]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "latest.json"
BASELINE = BENCH_DIR / "baseline.json"
REQUIRED = ("name", "value", "unit")


def discover(only: set[str] | None) -> list[str]:
    """Module names `bench.bench_x`, sorted, optionally filtered by short name `x`."""
    names = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    if only:
        names = [n for n in names if n.removeprefix("bench_") in only or n in only]
    return [f"bench.{n}" for n in names]


def normalise(raw: Any, module: str) -> list[dict[str, Any]]:
    """Coerce a module's return value to protocol rows; tolerate small deviations."""
    if isinstance(raw, dict):
        raw = [raw]
    rows: list[dict[str, Any]] = []
    for item in raw or []:
        if not isinstance(item, dict) or any(k not in item for k in REQUIRED):
            raise ValueError(f"{module}: row {item!r} lacks one of {REQUIRED}")
        r = dict(item)
        r["value"] = float(r["value"])
        r.setdefault("baseline", None)
        if r.get("ratio") is None and r["baseline"] not in (None, 0):
            r["ratio"] = round(r["value"] / float(r["baseline"]), 4)
        r.setdefault("ratio", None)
        r.setdefault("target", None)
        r.setdefault("better", "lower")
        r["module"] = module.removeprefix("bench.")
        rows.append(r)
    return rows


def run_child(module: str, quick: bool) -> None:
    """Child mode: import the module, run it, print its rows as JSON on the last stdout line."""
    mod = importlib.import_module(module)
    rows = mod.run(quick)
    sys.stdout.write("\n__BENCH_ROWS__" + json.dumps(rows, default=str) + "\n")
    sys.stdout.flush()


def run_module(module: str, quick: bool, timeout: float) -> tuple[list[dict[str, Any]], str | None]:
    """Run one bench module in a fresh interpreter; (rows, error)."""
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "bench.run", "--child", module] + (["--quick"] if quick else [])
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return [], f"timed out after {timeout:.0f}s"
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("__BENCH_ROWS__")]
    if proc.returncode != 0 or not marker:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
        return [], f"exit {proc.returncode}: " + " | ".join(tail)
    rows = normalise(json.loads(marker[-1].removeprefix("__BENCH_ROWS__")), module)
    for r in rows:
        r["elapsed_s"] = round(time.perf_counter() - started, 1)
    return rows, None


def section(quick: bool) -> str:
    """Quick and full runs use different sizes, so each has its own committed figures."""
    return "quick_figures" if quick else "figures"


def compare(rows: list[dict[str, Any]], baseline: dict[str, Any],
            tolerance: float, quick: bool = False) -> list[dict[str, Any]]:
    """Annotate each row with `delta` vs the committed figure and a `verdict`."""
    figures = baseline.get(section(quick), {})
    for r in rows:
        base = figures.get(r["name"])
        if not base:
            r["delta"], r["verdict"] = None, "new"
            continue
        if not base.get("value"):  # a committed zero (errors, duplicates): any rise moves it
            lower = r.get("better", "lower") == "lower"
            r["delta"] = None
            r["verdict"] = ("ok" if r["value"] == 0 else
                            ("REGRESSED" if lower == (r["value"] > 0) else "improved"))
            continue
        delta = (r["value"] - base["value"]) / abs(base["value"])
        r["delta"] = round(delta, 4)
        worse = delta > tolerance if r.get("better", "lower") == "lower" else delta < -tolerance
        better = delta < -tolerance if r.get("better", "lower") == "lower" else delta > tolerance
        r["verdict"] = "REGRESSED" if worse else ("improved" if better else "ok")
    return rows


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}"
    return str(v)


def render(rows: list[dict[str, Any]], errors: dict[str, str], console: Console) -> None:
    table = Table(title="postplan benchmarks", show_lines=False, expand=False)
    for col in ("figure", "value", "unit", "in-run baseline", "ratio", "target", "vs committed"):
        left = col in ("figure", "unit", "target")
        table.add_column(col, justify="left" if left else "right", no_wrap=col == "figure")
    for r in rows:
        delta = r.get("delta")
        verdict = r.get("verdict", "new")
        style = {"REGRESSED": "bold red", "improved": "green"}.get(verdict, "")
        moved = verdict if delta is None else f"{delta:+.0%} {verdict}"
        if r.get("ok") is False:
            moved += " (target missed)"
            style = "bold red"
        table.add_row(r["name"], fmt(r["value"]), r["unit"], fmt(r.get("baseline")),
                      fmt(r.get("ratio")), r.get("target") or "-", f"[{style}]{moved}[/]"
                      if style else moved)
    console.print(table)
    for module, err in errors.items():
        console.print(f"[bold red]{module} failed:[/] {err}")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "cpu": cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", default="", help="comma-separated short names (sse,overhead)")
    parser.add_argument("--tolerance", type=float, default=0.25,
                        help="relative move vs baseline.json counted as a regression")
    parser.add_argument("--timeout", type=float, default=900, help="per-module seconds")
    parser.add_argument("--update-baseline", action="store_true",
                        help="write these figures to bench/baseline.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args.quick)
        return 0

    console = Console(width=max(160, Console().width))
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for module in discover(only):
        console.print(f"[dim]running {module} ...[/]")
        got, err = run_module(module, args.quick, args.timeout)
        rows.extend(got)
        if err:
            errors[module] = err
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    rows = compare(rows, baseline, args.tolerance, args.quick)
    render(rows, errors, console)

    result = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "quick": args.quick, "machine": machine(), "tolerance": args.tolerance,
              "rows": rows, "errors": errors}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"[dim]wrote {RESULTS.relative_to(ROOT)}[/]")

    if args.update_baseline:
        key = section(args.quick)
        figures = dict(baseline.get(key, {}))
        for r in rows:
            figures[r["name"]] = {"value": r["value"], "unit": r["unit"],
                                  "better": r.get("better", "lower")}
        updated = {**baseline, "when": result["when"], "machine": result["machine"],
                   key: dict(sorted(figures.items()))}
        BASELINE.write_text(json.dumps(updated, indent=2) + "\n")
        console.print(f"[green]updated {BASELINE.relative_to(ROOT)}[/]")

    regressed = [r["name"] for r in rows if r.get("verdict") == "REGRESSED"]
    missed = [r["name"] for r in rows if r.get("ok") is False]
    if regressed:
        console.print(f"[bold red]moved beyond ±{args.tolerance:.0%}:[/] {', '.join(regressed)}")
    if missed:
        console.print(f"[bold red]targets missed:[/] {', '.join(missed)}")
    if errors:
        return 2
    return 1 if (regressed or missed) else 0


if __name__ == "__main__":
    sys.exit(main())
