"""`postplan generate --brief FILE`: stream a calendar to the terminal.

In-process by default: the same run machinery as the API, against the configured database (a
SQLite database is migrated first, like `postplan serve`). With `--base-url` it streams from a
running server instead. A progress bar goes to stderr; the calendar is printed as a table, or as
JSON with `--json`. Exit status: 0 completed, 3 partial (AI timeout), 1 failed or cancelled,
2 invalid brief or configuration.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from postplan.calendars.runs.events import RunEvent
from postplan.cli.sse import SseLineParser
from postplan.generation.schemas import Brief

if TYPE_CHECKING:
    from postplan.calendars.runs.registry import RunRegistry
    from postplan.config import Settings


@dataclass
class Outcome:
    run: dict[str, Any] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # timeout / error events
    done: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"run": self.run, "entries": self.entries, "problems": self.problems,
                "done": self.done}


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"postplan generate: {message}", err=True)
    return typer.Exit(code)


def _read_brief(path: Path) -> Brief:
    from postplan.generation.planner import check_brief

    try:
        brief = Brief.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from None
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())) or "brief"
            typer.echo(f"postplan generate: {where}: {err.get('msg')}", err=True)
        raise typer.Exit(2) from None
    problems = check_brief(brief)
    if problems:
        for where, message in problems:
            typer.echo(f"postplan generate: {where}: {message}", err=True)
        raise typer.Exit(2)
    return brief


async def _local_events(brief: Brief, user: str) -> AsyncIterator[RunEvent]:
    from postplan.calendars.runs.service import start_run
    from postplan.cli.settings import load_settings
    from postplan.core.flags import FlagService

    settings = load_settings()
    async with AsyncExitStack() as stack:

        async def open_registry() -> RunRegistry:
            return await stack.enter_async_context(_local_registry(settings))

        flags = FlagService(settings)
        await flags.load_once()  # on Postgres the flags live in the database
        # Unlike the API, no dry run when the database is away: the command fails instead.
        started = await start_run(brief, user, settings=settings, flags=flags,
                                  registry=open_registry, dry_run_when_unreachable=False)
        try:
            async for event in started.events:
                yield event
        finally:
            started.release()
        if started.registry is not None:
            await started.registry.wait_idle()


@asynccontextmanager
async def _local_registry(settings: Settings) -> AsyncIterator[RunRegistry]:
    """A run registry on the configured database, opened only for a run that writes."""
    from postplan.calendars.runs.registry import RunRegistry
    from postplan.calendars.runs.store import RunStore
    from postplan.core.db import create_engine, create_sessionmaker
    from postplan.core.migrate import upgrade_async
    from postplan.generation.providers.client import close_shared_client

    if settings.is_sqlite:
        await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url,
                           disable_statement_cache=settings.database_disable_statement_cache)
    try:
        registry = RunRegistry(RunStore(create_sessionmaker(engine),
                                        max_entries=settings.max_entries_per_calendar))
        try:
            yield registry
        finally:
            await registry.store.close()  # also when the run was refused before it started
    finally:
        await close_shared_client()  # the model client this command's run used, if any
        await engine.dispose()


async def _remote_events(brief_raw: bytes, base_url: str, user: str,
                         token: str | None) -> AsyncIterator[RunEvent]:
    import httpx

    headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers["X-User-Id"] = user
    url = base_url.rstrip("/") + "/v1/ai/calendar"
    timeout = httpx.Timeout(30.0, read=None)
    async with httpx.AsyncClient(timeout=timeout) as client, client.stream(
        "POST", url, content=brief_raw, headers=headers
    ) as response:
        if response.status_code != 200:
            body = (await response.aread()).decode("utf-8", "replace")
            try:
                problem = json.loads(body)
                detail = problem.get("detail") or problem.get("title") or body
            except ValueError:
                detail = body[:300]
            raise _fail(f"server answered {response.status_code}: {detail}",
                        2 if response.status_code == 422 else 1)
        parser = SseLineParser()
        async for line in response.aiter_lines():
            event = parser.feed(line)
            if event is not None:
                yield RunEvent(event.name, json.loads(event.data), event.id)


async def _consume(events: AsyncIterator[RunEvent], show_progress: bool) -> Outcome:
    outcome = Outcome()
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False,
                  disable=not show_progress) as progress:
        task = progress.add_task("planning", total=None)
        async for event in events:
            if event.event == "run":
                outcome.run = event.data
                progress.update(task, total=event.data.get("expectedEntries"),
                                description=f"{event.data.get('mode')} run")
            elif event.event == "entry":
                outcome.entries.append(event.data["entry"])
                progress.advance(task)
            elif event.event in ("timeout", "error"):
                outcome.problems.append({"event": event.event, **event.data})
            elif event.event == "done":
                outcome.done = event.data
                progress.update(task, description=str(event.data.get("status")))
    return outcome


def _table(outcome: Outcome) -> Table:
    run = outcome.run
    title = (f"calendar {run.get('calendarId')} · run {run.get('runId')} · {run.get('mode')}"
             + (" · dry run" if run.get("dryRun") else ""))
    table = Table(title=title, show_lines=False)
    for column in ("#", "when", "channel", "format", "pillar", "hook", "hashtags"):
        table.add_column(column, overflow="fold")
    for n, entry in enumerate(outcome.entries, start=1):
        when = entry["scheduledAt"]
        table.add_row(str(n), f"{when[:10]} {when[11:16]} {when[19:]}", entry["channel"],
                      entry["format"],
                      entry["pillar"], entry["hook"],
                      " ".join(f"#{t}" for t in entry["hashtags"]))
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def generate(
        brief: Path = typer.Option(..., "--brief", help="The brief, a JSON file (camelCase)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        base_url: str | None = typer.Option(
            None, "--base-url", help="Stream from a running server instead of in-process."),
        user: str = typer.Option("local", "--user", help="User id (dev auth / in-process)."),
        token: str | None = typer.Option(None, "--token", envvar="POSTPLAN_TOKEN",
                                         help="Bearer token for --base-url with Supabase auth."),
    ) -> None:
        """Generate a calendar from a brief, with a progress bar, then print it."""
        from postplan.core.logging import configure_logging

        parsed = _read_brief(brief)
        if base_url is None:
            from postplan.cli.settings import load_settings

            settings = load_settings()
            # Progress owns the terminal: only warnings are logged (or everything to LOG_FILE).
            configure_logging(settings.log_level if settings.log_file else "WARNING",
                              settings.log_file, settings.log_format)
            events = _local_events(parsed, user)
        else:
            events = _remote_events(brief.read_bytes(), base_url, user, token)
        from postplan.core.errors import AppError

        try:
            outcome = asyncio.run(_consume(events,
                                           show_progress=sys.stderr.isatty() or not as_json))
        except AppError as exc:  # refused before the run started (unknown calendar, too large)
            typer.echo(f"postplan generate: {exc.code}: {exc.detail}", err=True)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(outcome.as_json(), ensure_ascii=False, indent=2))
        else:
            console = Console()
            console.print(_table(outcome))
            for problem in outcome.problems:
                console.print(f"[yellow]{problem['event']}[/]: "
                              f"{problem.get('message') or problem.get('code')}")
            if outcome.done:
                console.print(f"{outcome.done['status']}: {outcome.done['entryCount']} entries")
        status = (outcome.done or {}).get("status")
        if status == "completed":
            return
        raise typer.Exit(3 if status == "partial" else 1)
