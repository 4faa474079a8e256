"""`postplan flags` on Postgres: the document lives in the `flag_definitions` table, shared by
every API process and worker (see `postplan.core.flagstore`). `FLAGS_FILE` (or `--file`) seeds
an empty table on the first edit, exactly as the servers seed it at start."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError

from postplan.config import Settings
from postplan.core.db import create_engine
from postplan.core.flagfile import FlagConfigError, parse_flag_document
from postplan.core.flagstore import FlagRevisionConflict, read_stored, write

T = TypeVar("T")

#: How the stored document is named in messages.
LABEL = "the database (flag_definitions)"


def _engine(settings: Settings) -> Any:
    return create_engine(settings.database_url, pool_size=1, max_overflow=0,
                         disable_statement_cache=settings.database_disable_statement_cache)


def _author() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def read_stored_document(settings: Settings, seed: Path | None,
                         empty: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """(document, revision). An empty table reads as the seed file's document (revision None:
    the next write stores revision 1). A stored document that does not validate stops the
    edit: the running processes keep their last good values meanwhile."""

    async def run() -> tuple[str | None, int | None]:
        engine = _engine(settings)
        try:
            stored = await read_stored(engine)
        finally:
            await engine.dispose()
        return (stored.document, stored.revision) if stored else (None, None)

    text, revision = _run_or_exit(run)
    where = LABEL
    if text is None:
        if seed is None or not seed.exists():
            return empty, None
        text, where = seed.read_text(encoding="utf-8"), str(seed)
    try:
        return parse_flag_document(text), revision
    except FlagConfigError as exc:
        typer.echo(f"postplan: the flags in {where} are not valid ({exc}); fix them first — "
                   "the running processes keep their last good values meanwhile", err=True)
        raise typer.Exit(1) from None


def write_stored_document(settings: Settings, data: dict[str, Any],
                          expected: int | None) -> int:
    """Validate and store `data` if nobody wrote since `expected`; the new revision. A
    concurrent edit exits 1 (run the command again: it re-reads the newer document)."""
    text = json.dumps(data, indent=2) + "\n"
    parse_flag_document(text)

    async def run() -> int:
        engine = _engine(settings)
        try:
            return await write(engine, text, _author(), expected)
        finally:
            await engine.dispose()

    try:
        return _run_or_exit(run)
    except FlagRevisionConflict as exc:
        typer.echo(f"postplan: {exc}; run the command again", err=True)
        raise typer.Exit(1) from None


def _run_or_exit(run: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one database call; an unreachable or unmigrated database exits 1 with the reason."""
    try:
        return asyncio.run(run())
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        typer.echo(f"postplan: cannot reach the flags in {LABEL}: {reason} (is DATABASE_URL "
                   "right? `postplan migrate` creates the table)", err=True)
        raise typer.Exit(1) from None
