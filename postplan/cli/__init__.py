"""The `postplan` command."""

from __future__ import annotations

import typer

from postplan.cli.server import register as register_server

app = typer.Typer(
    name="postplan",
    help="Plan, stream, store, export and publish content calendars.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
register_server(app)


def main() -> None:
    """Console-script entry point."""
    app()
