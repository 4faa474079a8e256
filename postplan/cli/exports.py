"""`postplan import FILE`: bring a JSON export or a CSV back into the database."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import typer

CONTENT_TYPES = {"json": "application/json", "csv": "text/csv"}


async def run_import(database_url: str, body: bytes, user_id: str,
                     calendar_id: uuid.UUID | None, kind: str,
                     max_entries: int | None = None) -> dict[str, Any]:
    """Import one file in one transaction; returns the report (raises AppError on refusal)."""
    from postplan.core.db import create_engine, create_sessionmaker
    from postplan.core.migrate import upgrade_async
    from postplan.exports import service

    if database_url.startswith("sqlite"):
        await upgrade_async(database_url)  # the embedded default migrates itself, as `serve` does
    engine = create_engine(database_url)
    try:
        maker = create_sessionmaker(engine, write=True)
        async with maker() as session:
            parsed = service.parse_file(body, CONTENT_TYPES[kind])
            report = await service.import_file(session, user_id, parsed, calendar_id,
                                               max_entries=max_entries)
            await session.commit()
            return report.model_dump(by_alias=True, mode="json")
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                    help="A JSON export (.json) or a CSV (.csv)."),
        calendar_id: str | None = typer.Option(
            None, "--calendar-id", help="Import into this calendar (required for most CSVs)."),
        user: str = typer.Option("local", "--user", help="The owner's user id."),
        kind: str = typer.Option("auto", "--format", help="auto, json or csv."),
    ) -> None:
        """Import entries idempotently by id; prints a JSON report.

        Exit status: 0 all rows imported, 1 some rows failed (listed), 2 nothing imported.
        """
        from postplan.cli.settings import load_settings
        from postplan.core.errors import AppError

        settings = load_settings()
        if kind == "auto":
            kind = "csv" if file.suffix.lower() == ".csv" else "json"
        if kind not in CONTENT_TYPES:
            typer.echo("postplan: --format must be auto, json or csv", err=True)
            raise typer.Exit(2)
        target: uuid.UUID | None = None
        if calendar_id:
            try:
                target = uuid.UUID(calendar_id)
            except ValueError:
                typer.echo("postplan: --calendar-id must be a UUID", err=True)
                raise typer.Exit(2) from None
        try:
            report = asyncio.run(run_import(settings.database_url, file.read_bytes(), user,
                                            target, kind, settings.max_entries_per_calendar))
        except AppError as exc:
            typer.echo(json.dumps({"code": exc.code, "detail": exc.detail, **exc.extra},
                                  ensure_ascii=False, indent=2), err=True)
            raise typer.Exit(2) from None
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        if report["errors"]:
            raise typer.Exit(1)
