"""`postplan alerts check FILE`: which alerts would have fired over a JSON-lines log."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from postplan.alerts import replay

alerts_app = typer.Typer(help="Evaluate postplan's alert rules.", no_args_is_help=True)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


@alerts_app.command("check")
def check(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                      help="A JSON-lines log (LOG_FILE).")) -> None:
    """Replay the log through the alert rules; exit 1 if any alert would fire."""
    fired = replay(_records(file))
    console = Console(width=160)
    if not fired:
        console.print("no alert would fire")
        return
    table = Table(title=f"alerts that would fire over {file}")
    for column in ("alert", "labels", "severity", "first firing at", "peak", "threshold",
                   "summary"):
        table.add_column(column)
    for alert in sorted(fired, key=lambda a: a.first_at):
        labels = ",".join(f"{k}={v}" for k, v in alert.labels) or "-"
        when = dt.datetime.fromtimestamp(alert.first_at, tz=dt.UTC).isoformat()
        table.add_row(alert.alert, labels, alert.severity, when, f"{alert.peak:.4g}",
                      f"{alert.threshold:g}", alert.summary, style="red")
    console.print(table)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Mount `postplan alerts`."""
    app.add_typer(alerts_app, name="alerts")
