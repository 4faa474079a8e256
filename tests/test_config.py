"""Settings are validated at start; the CLI names the bad variable and exits non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from postplan.config import Settings

POSTPLAN = [sys.executable, "-m", "postplan.cli"]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "AUTH_MODE"}}
    full.update(env)
    return subprocess.run([*POSTPLAN, *args], env=full, cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def test_defaults_are_the_embedded_mode() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite+aiosqlite")
    assert settings.auth_mode == "dev"
    assert settings.calendar_service_enabled is False
    assert settings.publish_service_enabled is False


def test_supabase_urls_are_normalised() -> None:
    s = Settings(_env_file=None, DATABASE_URL="postgres://u:p@h:6543/db")  # type: ignore[call-arg]
    assert s.database_url == "postgresql+asyncpg://u:p@h:6543/db"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"AI_TIMEOUT_SECONDS": "-3"}, "AI_TIMEOUT_SECONDS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"PUBLISH_SERVICE_ENABLED": "maybe"}, "PUBLISH_SERVICE_ENABLED"),
        ({"TIKTOK_API_BASE": "open.tiktokapis.com"}, "TIKTOK_API_BASE"),
    ],
)
def test_bad_values_stop_the_process_naming_the_variable(
    env: dict[str, str], name: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, **env)  # type: ignore[call-arg]
    assert name in str(info.value)
    res = _run(["migrate"], env, tmp_path)
    assert res.returncode == 2
    assert name in res.stderr


def test_supabase_mode_needs_a_key(tmp_path: Path) -> None:
    res = _run(["migrate"], {"AUTH_MODE": "supabase"}, tmp_path)
    assert res.returncode == 2
    assert "SUPABASE_JWT_SECRET" in res.stderr


def test_dev_mode_refuses_a_public_address(tmp_path: Path) -> None:
    res = _run(["serve", "--host", "0.0.0.0", "--port", "1"], {}, tmp_path)
    assert res.returncode == 2
    assert "non-loopback" in res.stderr


def test_migrate_and_version_commands(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    res = _run(["migrate"], {"DATABASE_URL": url}, tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cli.db").exists()
    assert "postplan" in _run(["version"], {}, tmp_path).stdout
