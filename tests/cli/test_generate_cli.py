"""`postplan generate --brief FILE`, in-process and against a running server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from postplan.cli import app as cli_app
from postplan.config import get_settings
from postplan.generation.planner import count_slots
from postplan.generation.schemas import Brief
from tests.fakes.llm_server import FakeLLMConfig, fake_llm
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url

pytestmark = pytest.mark.timeout(60)

BRIEF: dict[str, Any] = {"brand": "Acme", "startDate": "2026-12-01", "days": 7,
                         "channels": ["tiktok"], "timezone": "Asia/Tokyo"}


@pytest.fixture
def brief_file(tmp_path: Path) -> Path:
    path = tmp_path / "brief.json"
    path.write_text(json.dumps(BRIEF))
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = sqlite_url(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CALENDAR_SERVICE_ENABLED", "true")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_generate_in_process_prints_json(env: str, brief_file: Path) -> None:
    result = CliRunner().invoke(cli_app, ["generate", "--brief", str(brief_file), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    expected = count_slots(Brief.model_validate(BRIEF))
    assert out["run"]["mode"] == "planner"
    assert len(out["entries"]) == expected
    assert out["done"]["status"] == "completed"
    assert all(e["scheduledAt"].endswith("+09:00") for e in out["entries"])


def test_generate_prints_a_table(env: str, brief_file: Path) -> None:
    result = CliRunner().invoke(cli_app, ["generate", "--brief", str(brief_file)])
    assert result.exit_code == 0, result.output
    assert "planner" in result.stdout
    assert "completed" in result.stdout


def test_generate_refuses_a_bad_brief(env: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**BRIEF, "days": 0}))
    result = CliRunner().invoke(cli_app, ["generate", "--brief", str(bad)])
    assert result.exit_code == 2
    assert "days" in result.stderr


@pytest.mark.live
def test_generate_streams_from_a_server(tmp_path: Path, brief_file: Path) -> None:
    settings = make_settings(sqlite_url(tmp_path), CALENDAR_SERVICE_ENABLED=True,
                             SPOOL_DIR=str(tmp_path / "spool"))
    with live_server(build_app(settings)) as server:
        result = CliRunner().invoke(cli_app, ["generate", "--brief", str(brief_file), "--json",
                                              "--base-url", server.url])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["done"]["status"] == "completed"
    assert len(out["entries"]) == out["run"]["expectedEntries"] > 0


@pytest.mark.live
def test_generate_ai_mode_and_partial_exit_status(env: str, brief_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_llm(FakeLLMConfig()) as (fake, base_url):
        monkeypatch.setenv("LLM_BASE_URL", base_url)
        get_settings.cache_clear()
        result = CliRunner().invoke(cli_app, ["generate", "--brief", str(brief_file), "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["run"]["mode"] == "ai"
        assert all(e["hook"].startswith("Fake hook") for e in out["entries"])
        assert fake.calls == 1
    with fake_llm(FakeLLMConfig(stall_after=1, stall_seconds=30)) as (_fake, base_url):
        monkeypatch.setenv("LLM_BASE_URL", base_url)
        monkeypatch.setenv("AI_TIMEOUT_SECONDS", "1")
        get_settings.cache_clear()
        result = CliRunner().invoke(cli_app, ["generate", "--brief", str(brief_file), "--json"])
    assert result.exit_code == 3, result.output
    out = json.loads(result.stdout)
    assert out["done"]["status"] == "partial"
    assert out["problems"][0]["event"] == "timeout"
    assert len(out["entries"]) == 1


def test_generate_beyond_the_entry_cap_is_refused(env: str, brief_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_ENTRIES_PER_CALENDAR", "1")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli_app, ["generate", "--brief", str(brief_file), "--json"])
    assert result.exit_code == 2, result.output
    assert "calendar_too_large" in result.output
