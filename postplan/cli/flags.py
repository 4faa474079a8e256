"""`postplan flags show|set|rollout|check`: read and edit the flag definitions (flagd JSON).

On SQLite they are a file, replaced atomically; on Postgres (`DATABASE_URL`) a row of the
`flag_definitions` table every process shares (`postplan.cli.flagdb`), with the file as the seed
of an empty table. Running processes re-read every FLAGS_POLL_SECONDS: an edit is live within
seconds everywhere.
The file is `--file`, else `FLAGS_FILE`, else on SQLite the one beside the database
(`Settings.default_flags_file`: `./postplan.db` → `./postplan.flags.json`), which is also what
`postplan serve` watches: the README's commands work against `make serve` with no setup.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from openfeature.evaluation_context import EvaluationContext
from rich.console import Console
from rich.table import Table

from postplan.cli.flagdb import LABEL, read_stored_document, write_stored_document
from postplan.cli.settings import load_settings
from postplan.config import Settings, get_settings
from postplan.core.flagfile import (
    FlagConfigError,
    allowlist_of,
    parse_flag_document,
    percentage_of,
)
from postplan.core.flags_provider import FileFlagProvider

FLAG_NAMES = ("CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED")

flags_app = typer.Typer(help="Show and edit feature flags (the FLAGS_FILE flagd JSON).",
                        no_args_is_help=True)

FileOption = typer.Option(None, "--file", "-f", envvar="FLAGS_FILE",
                          help="The flags file (default: $FLAGS_FILE, else on SQLite the file "
                               "beside the database, e.g. ./postplan.flags.json).")


def _path(file: Path | None) -> Path:
    if file is not None:
        return file
    default = load_settings().default_flags_file
    if default is None:
        typer.echo("postplan: no flags file: pass --file or set FLAGS_FILE (with DATABASE_URL "
                   "on SQLite the file beside the database is used)", err=True)
        raise typer.Exit(2)
    return default


def _name(name: str) -> str:
    upper = name.strip().upper()
    aliases = {"CALENDAR": "CALENDAR_SERVICE_ENABLED", "PUBLISH": "PUBLISH_SERVICE_ENABLED"}
    upper = aliases.get(upper, upper)
    if upper not in FLAG_NAMES:
        typer.echo(f"postplan: unknown flag {name!r}; one of {', '.join(FLAG_NAMES)}", err=True)
        raise typer.Exit(2)
    return upper


def empty_document() -> dict[str, Any]:
    """A flags document with no flags: every flag takes its environment value."""
    return {"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": {}}


def read_document(path: Path) -> dict[str, Any]:
    """The current document; a missing file is an empty one. A corrupt file stops the edit."""
    if not path.exists():
        return empty_document()
    try:
        return parse_flag_document(path.read_text(encoding="utf-8"))
    except (FlagConfigError, UnicodeDecodeError) as exc:
        typer.echo(f"postplan: {path} is not a valid flags file ({exc}); fix or remove it "
                   "first — the running service keeps its last good values meanwhile", err=True)
        raise typer.Exit(1) from None


def write_document(path: Path, data: dict[str, Any]) -> None:
    """Validate, then replace the file atomically: temp file in the same directory, fsync,
    rename, fsync the directory. A reader sees the old or the new file, never half of one."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    parse_flag_document(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with _ignore_missing():
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _ignore_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, FileNotFoundError)


def boolean_flag(on: bool) -> dict[str, Any]:
    """A flag that is simply on or off for everyone."""
    return {"state": "ENABLED", "variants": {"on": True, "off": False},
            "defaultVariant": "on" if on else "off"}


def rollout_flag(percent: int, allow: list[str]) -> dict[str, Any]:
    """Off by default; on for the allowlist, then for a sticky `percent` of the other users.

    The weights always total 100, so raising the percentage keeps everyone already in.
    """
    flag = boolean_flag(False)
    fractional: dict[str, Any] = {"fractional": [["on", percent], ["off", 100 - percent]]}
    allow_rule: dict[str, Any] = {"in": [{"var": "targetingKey"}, allow]}
    if allow and percent > 0:
        flag["targeting"] = {"if": [allow_rule, "on", fractional]}
    elif allow:
        flag["targeting"] = {"if": [allow_rule, "on", "off"]}
    elif percent > 0:
        flag["targeting"] = fractional
    return flag


def describe_flag(flag: dict[str, Any] | None) -> tuple[str, str, str]:
    """(mode, allowlist, percentage) for the table."""
    if flag is None:
        return ("not in file: environment value", "-", "-")
    if flag.get("state") != "ENABLED":
        return ("DISABLED (off for everyone)", "-", "-")
    default = flag.get("variants", {}).get(flag.get("defaultVariant"))
    allow = allowlist_of(flag)
    pct = percentage_of(flag)
    if not flag.get("targeting"):
        return ("on for everyone" if default else "off for everyone", "-", "-")
    return ("rollout", ",".join(allow) or "-", f"{pct:g}%" if pct is not None else "-")


def create_default_flags_file(settings: Settings) -> None:
    """Create the default flags file (no flags: the environment values apply) on first use, so
    the server watches it from the start and never logs it as missing."""
    path = settings.flags_file
    if path is None or get_settings().flags_file is not None or path.exists():
        return  # FLAGS_FILE named by the operator: a missing one is worth its warning
    try:
        write_document(path, empty_document())
    except OSError as exc:
        typer.echo(f"postplan: cannot create the flags file {path}: {exc.strerror}", err=True)


@dataclass
class _Where:
    """Where the definitions being edited live: a file, or the database (with the revision
    read, for the compare-and-set write)."""

    label: str
    path: Path | None = None
    settings: Settings | None = None
    revision: int | None = None


def _open(file: Path | None) -> tuple[_Where, dict[str, Any]]:
    settings = load_settings()
    if not settings.is_sqlite:
        data, revision = read_stored_document(settings, file or settings.flags_file,
                                              empty_document())
        return _Where(LABEL, settings=settings, revision=revision), data
    path = _path(file)
    return _Where(str(path), path=path), read_document(path)


def _save(where: _Where, data: dict[str, Any]) -> str:
    """Write `data` back; the place written, for the confirmation line."""
    if where.settings is not None:
        revision = write_stored_document(where.settings, data, where.revision)
        return f"{where.label}, revision {revision}"
    assert where.path is not None
    write_document(where.path, data)
    return where.label


@flags_app.command("show")
def show(file: Path | None = FileOption,
         user: str | None = typer.Option(None, "--user", help="Also evaluate for this user id."),
         as_json: bool = typer.Option(False, "--json", help="Print the raw document.")) -> None:
    """Print each flag's setting (and, with --user, its value for that user)."""
    where, data = _open(file)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    values: dict[str, bool] = {}
    if user is not None:
        # Evaluate exactly as the server would: this file, then the environment's values.
        settings = Settings()
        provider = FileFlagProvider({"CALENDAR_SERVICE_ENABLED": settings.calendar_service_enabled,
                                     "PUBLISH_SERVICE_ENABLED": settings.publish_service_enabled},
                                    None, quiet=True, origin=where.label)
        provider.apply(json.dumps(data).encode())
        for name in FLAG_NAMES:
            values[name] = bool(provider.resolve_boolean_details(
                name, False, EvaluationContext(targeting_key=user)).value)
    title = f"flags in {where.label}" + (f" (revision {where.revision})"
                                        if where.revision is not None else "")
    table = Table(title=title)
    for column in ("flag", "setting", "allowlist", "percentage",
                   *((f"for {user}",) if user is not None else ())):
        table.add_column(column)
    for name in FLAG_NAMES:
        row = [name, *describe_flag(data["flags"].get(name))]
        if user is not None:
            row.append("ON" if values[name] else "off")
        table.add_row(*row)
    Console().print(table)


@flags_app.command("set")
def set_flag(name: str = typer.Argument(..., help="CALENDAR_SERVICE_ENABLED or "
                                                  "PUBLISH_SERVICE_ENABLED"),
             value: str = typer.Argument(..., help="on or off"),
             file: Path | None = FileOption) -> None:
    """Turn a flag on or off for everyone (clears any rollout targeting). Rollback = `off`."""
    flag_name = _name(name)
    if value.lower() not in ("on", "off", "true", "false"):
        typer.echo("postplan: value must be on or off", err=True)
        raise typer.Exit(2)
    where, data = _open(file)
    data["flags"][flag_name] = boolean_flag(value.lower() in ("on", "true"))
    written = _save(where, data)
    typer.echo(f"{flag_name} = {value.lower()} for everyone (written to {written})")


@flags_app.command("rollout")
def rollout(name: str = typer.Argument(..., help="the flag"),
            percent: int = typer.Option(0, "--percent", "-p", min=0, max=100,
                                        help="Sticky share of users (0-100) to turn on."),
            allow: str = typer.Option("", "--allow", help="Comma-separated user ids always on."),
            file: Path | None = FileOption) -> None:
    """Turn a flag on for an allowlist and/or a sticky percentage of users."""
    flag_name = _name(name)
    ids = [i.strip() for i in allow.split(",") if i.strip()]
    where, data = _open(file)
    data["flags"][flag_name] = (boolean_flag(True) if percent == 100
                                else rollout_flag(percent, ids))
    written = _save(where, data)
    who = []
    if ids:
        who.append(f"{len(ids)} allowlisted user(s)")
    who.append(f"{percent}% of users")
    typer.echo(f"{flag_name} on for {' + '.join(who)} (written to {written})")


@flags_app.command("check")
def check(path: Path | None = typer.Argument(
        None, help="A flags file to validate (e.g. a hand-edited copy before moving it into "
                   "place). Without it: the definitions in use (the database on Postgres, "
                   "else the default flags file).")) -> None:
    """Validate flag definitions exactly as the server would; exit 1 when invalid."""
    if path is None:
        where, data = _open(None)  # exits 1 with the reason when the stored ones are invalid
        typer.echo(f"valid ({where.label}): {len(data['flags'])} flag(s): "
                   f"{', '.join(data['flags']) or '-'}")
        return
    try:
        data = parse_flag_document(path.read_text(encoding="utf-8"))
    except (OSError, FlagConfigError, UnicodeDecodeError) as exc:
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"valid: {len(data['flags'])} flag(s): {', '.join(data['flags']) or '-'}")


def register(app: typer.Typer) -> None:
    """Mount `postplan flags`."""
    app.add_typer(flags_app, name="flags")
