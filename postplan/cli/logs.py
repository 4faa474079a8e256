"""`postplan logs check FILE`: the log contract check before a full rollout."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from postplan.core.context import REQUIRED_LOG_FIELDS
from postplan.core.logcheck import LogCheckReport, check_file, check_lines

logs_app = typer.Typer(help="Check JSON logs against the log contract.", no_args_is_help=True)


def render(report: LogCheckReport, console: Console) -> None:
    """Print the per-event table and the verdict."""
    table = Table(title="log contract: required fields " + ", ".join(REQUIRED_LOG_FIELDS))
    for column in ("event", "lines", "missing fields", "null but expected", "first bad line"):
        table.add_column(column)
    for name in sorted(report.events):
        entry = report.events[name]
        missing = ", ".join(f"{f}×{n}" for f, n in sorted(entry.missing.items())) or "-"
        nulls = ", ".join(f"{f}×{n}" for f, n in sorted(entry.null_but_expected.items())) or "-"
        style = "red" if entry.missing else ("yellow" if entry.null_but_expected else None)
        table.add_row(name, str(entry.lines), missing, nulls,
                      str(entry.first_bad_line or "-"), style=style)
    console.print(table)
    for number, text in report.not_json[:20]:
        console.print(f"[red]line {number}: not a JSON object:[/red] {text}", markup=True,
                      highlight=False)
    if len(report.not_json) > 20:
        console.print(f"... and {len(report.not_json) - 20} more non-JSON lines")
    verdict = "PASS" if report.ok else "FAIL"
    console.print(
        f"{verdict}: {report.total_lines} lines, {report.json_lines} JSON, "
        f"{len(report.not_json)} not JSON, {len(report.bad_lines)} missing required fields"
    )


@logs_app.command("check")
def check(file: Path = typer.Argument(..., allow_dash=True,
                                      help="A JSON-lines log (LOG_FILE), or - for standard "
                                           "input (e.g. `kubectl logs … | postplan logs "
                                           "check -`)."),
          strict: bool = typer.Option(False, "--strict",
                                      help="Also fail when request/stream/publish lines have "
                                           "their key fields null.")) -> None:
    """Report lines that are not JSON or lack a required field, by event; exit 1 if any."""
    if str(file) == "-":
        report = check_lines(sys.stdin, strict=strict)
    else:
        if not file.is_file():
            typer.echo(f"postplan: {file}: no such file", err=True)
            raise typer.Exit(2)
        report = check_file(file, strict=strict)
    render(report, Console(width=140))
    if report.total_lines == 0:
        typer.echo("postplan: the log is empty", err=True)
        raise typer.Exit(1)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Mount `postplan logs`."""
    app.add_typer(logs_app, name="logs")
