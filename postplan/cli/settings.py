"""Settings for the commands: validated, with a message naming each bad variable, and the
default flags file filled in."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from postplan.config import Settings, get_settings

__all__ = ["load_settings"]


def load_settings() -> Settings:
    """Settings, or exit 2 with a message naming each bad variable.

    Without `FLAGS_FILE`, a SQLite database gets the flags file beside it
    (`Settings.default_flags_file`), the same path `postplan flags` edits."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            name = ".".join(str(p) for p in err.get("loc", ())) or "configuration"
            typer.echo(f"postplan: invalid configuration: {name}: {err.get('msg')}", err=True)
        raise typer.Exit(2) from None
    if settings.flags_file is None and settings.default_flags_file is not None:
        settings = settings.model_copy(update={"flags_file": settings.default_flags_file})
    return settings
