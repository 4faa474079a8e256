"""The `postplan` command."""

from __future__ import annotations

import sys

import typer

from postplan import __version__
from postplan.cli.alerts import register as register_alerts
from postplan.cli.exports import register as register_exports
from postplan.cli.flags import register as register_flags
from postplan.cli.generate import register as register_generate
from postplan.cli.logs import register as register_logs
from postplan.cli.server import register as register_server
from postplan.cli.smoke import register as register_smoke
from postplan.cli.tokens import register as register_tokens
from postplan.cli.worker import register as register_worker

app = typer.Typer(
    name="postplan",
    help="Plan, stream, store, export and publish content calendars.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"postplan {__version__} (python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True,
                                       callback=_print_version,
                                       help="Print the version and exit.")) -> None:
    """Plan, stream, store, export and publish content calendars."""


register_server(app)
register_worker(app)
register_tokens(app)
register_flags(app)
register_generate(app)
register_logs(app)
register_alerts(app)
register_smoke(app)
register_exports(app)


def main() -> None:
    """Console-script entry point."""
    app()
