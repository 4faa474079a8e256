"""`postplan import FILE`: a JSON export brought into a fresh database reproduces the calendar."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postplan.cli import app
from postplan.config import get_settings
from postplan.core.db import create_engine, create_sessionmaker
from postplan.exports import service
from postplan.exports.files import ExportFormat
from tests.exports.factories import seed_calendar
from tests.fixtures.databases import sqlite_url

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI pointed at the test database (settings are cached per process)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


async def _render(db_url: str, user_id: str, calendar_id: uuid.UUID,
                  fmt: ExportFormat) -> bytes:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            file = await service.export_calendar(session, user_id, calendar_id, fmt)
            return file.read_all()
    finally:
        await engine.dispose()


def test_cli_import_round_trip_into_a_fresh_database(cli_db: str, tmp_path: Path) -> None:
    source_dir = tmp_path / "source"
    source_dir.mkdir()
    source_url = sqlite_url(source_dir)
    seeded = asyncio.run(seed_calendar(source_url, entries=25,
                                 timezones=["Europe/Paris", "UTC", "America/New_York"]))
    exported = asyncio.run(_render(source_url, "local", seeded.calendar_id, ExportFormat.json))
    path = tmp_path / "calendar.json"
    path.write_bytes(exported)

    runner = CliRunner()
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["created"], report["calendarCreated"]) == (25, True)
    assert report["calendarId"] == str(seeded.calendar_id)

    again = runner.invoke(app, ["import", str(path)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["unchanged"] == 25

    # Same entries in the new database: the ICS (which names no run) is byte-identical,
    # and the JSON only differs in the generation-run ids, which do not travel.
    ics_src = asyncio.run(_render(source_url, "local", seeded.calendar_id, ExportFormat.ics))
    ics_dst = asyncio.run(_render(cli_db, "local", seeded.calendar_id, ExportFormat.ics))
    assert ics_dst == ics_src
    src, dst = json.loads(exported), json.loads(
        asyncio.run(_render(cli_db, "local", seeded.calendar_id, ExportFormat.json)))
    src["calendar"]["latestRunId"] = None
    for entry in src["entries"]:
        entry["runId"] = None
    assert dst == src


def test_cli_import_reports_row_errors_and_exit_codes(cli_db: str, db_url: str,
                                                            tmp_path: Path) -> None:
    seeded = asyncio.run(seed_calendar(db_url, entries=1))
    partial = tmp_path / "rows.csv"
    partial.write_text("channel,format,scheduledAt\r\ntiktok,video,2026-12-01T10:00:00Z\r\n"
                       "tiktok,reel,2026-12-01T10:00:00Z\r\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["import", str(partial), "--calendar-id",
                                 str(seeded.calendar_id)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["created"] == 1
    assert report["errors"] == [{"row": 3, "field": "format",
                                 "message": "format reel is not available on tiktok"}]
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "postplan.calendar", "version": 9}', encoding="utf-8")
    refused = runner.invoke(app, ["import", str(bad)])
    assert refused.exit_code == 2
    assert "unsupported_version" in refused.output


def test_cli_import_honours_the_entry_cap(cli_db: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    source_dir = tmp_path / "source"
    source_dir.mkdir()
    source_url = sqlite_url(source_dir)
    seeded = asyncio.run(seed_calendar(source_url, entries=5))
    path = tmp_path / "calendar.json"
    path.write_bytes(asyncio.run(_render(source_url, "local", seeded.calendar_id,
                                         ExportFormat.json)))
    monkeypatch.setenv("MAX_ENTRIES_PER_CALENDAR", "4")
    get_settings.cache_clear()
    refused = CliRunner().invoke(app, ["import", str(path)])
    assert refused.exit_code == 2, refused.output
    assert "calendar_too_large" in refused.output
    monkeypatch.setenv("MAX_ENTRIES_PER_CALENDAR", "5")
    get_settings.cache_clear()
    assert CliRunner().invoke(app, ["import", str(path)]).exit_code == 0
