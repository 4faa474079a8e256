"""A first run as the README tells it: `postplan serve` on the embedded default (SQLite in the
working directory, no FLAGS_FILE), then `postplan flags set …` (its own process, in the same
directory) and `postplan smoke` against it (docs/deploy.md, issue 17 "a first run without
friction"). Other commands run in-process: a CLI process costs seconds of imports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from postplan.cli import app
from tests.fixtures.apps import free_port
from tests.fixtures.processes import stop, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
pytestmark = pytest.mark.live

#: Whatever the developer's shell exports must not change what a newcomer would see.
SCRUBBED = {"CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE", "DATABASE_URL",
            "AUTH_MODE", "LOG_FILE", "LLM_BASE_URL", "LOG_FORMAT"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update({"PYTHONPATH": str(ROOT), **extra})
    return env


def postplan(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`postplan ARGS` as a user would type it, in `cwd`, as its own process."""
    return subprocess.run([sys.executable, "-m", "postplan.cli", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """`postplan serve` in an empty directory, nothing configured but the log file."""
    home = tmp_path_factory.mktemp("first-run")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "postplan.cli", "serve", "--port", str(port)],
                            cwd=home, env=_env(LOG_FILE=str(home / "server.log")),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, deadline=time.monotonic() + 60)
        yield home, url
    finally:
        stop(proc, timeout=20)


def flag(url: str, name: str) -> dict[str, object]:
    body = httpx.get(url + "/v1/flags", headers={"X-User-Id": "newcomer"}).json()
    value: dict[str, object] = body["flags"][name]
    return value


def test_smoke_passes_on_a_fresh_empty_database_and_trips_no_alert(
        first_run: tuple[Path, str]) -> None:
    home, url = first_run
    result = runner.invoke(app, ["smoke", "--base-url", url,
                                 "--log-file", str(home / "server.log")])
    assert result.exit_code == 0, result.output
    for step in ("smoke calendar imported (empty database)", "export csv (flag off) ×2",
                 "publish dry-run (flag off) ×2 deterministic", "no channel API call"):
        assert step in result.output
    # The smoke's dry runs pass the channels' checks: nothing an alert counts as a failure.
    metrics = httpx.get(url + "/metrics").text
    tiktok = 'postplan_publish_results_total{channel="tiktok",outcome='
    assert tiktok + '"dry_run_failed"} 0.0' in metrics
    assert tiktok + '"dry_run"} 0.0' not in metrics
    firing = [line for line in metrics.splitlines()
              if line.startswith("postplan_alerts_firing{") and not line.endswith(" 0.0")]
    assert firing == []
    # The offline evaluator over the server's own log agrees, and a second smoke reuses the
    # calendar instead of importing another.
    checked = runner.invoke(app, ["alerts", "check", str(home / "server.log")])
    assert checked.exit_code == 0, checked.output
    again = runner.invoke(app, ["smoke", "--base-url", url])
    assert again.exit_code == 0, again.output
    assert "imported" not in again.output


def test_readme_flags_command_works_against_the_served_default(
        first_run: tuple[Path, str]) -> None:
    home, url = first_run
    # `serve` created the flags file beside the database on first use (no "missing" warning).
    assert (home / "postplan.flags.json").is_file()
    assert flag(url, "CALENDAR_SERVICE_ENABLED")["enabled"] is False
    result = postplan(home, "flags", "set", "CALENDAR_SERVICE_ENABLED", "on")
    assert result.returncode == 0, result.stderr
    assert "postplan.flags.json" in result.stdout
    deadline = time.monotonic() + 5
    while flag(url, "CALENDAR_SERVICE_ENABLED")["enabled"] is not True:
        assert time.monotonic() < deadline, "the flip never reached the server"
        time.sleep(0.1)
    assert flag(url, "CALENDAR_SERVICE_ENABLED")["source"] == "file"
    shown = runner.invoke(app, ["flags", "show", "--file", str(home / "postplan.flags.json")])
    assert shown.exit_code == 0 and "on for everyone" in shown.output


def test_logs_check_reads_standard_input(first_run: tuple[Path, str]) -> None:
    home, _ = first_run
    text = (home / "server.log").read_text(encoding="utf-8")
    ok = runner.invoke(app, ["logs", "check", "-"], input=text)
    assert ok.exit_code == 0, ok.output
    assert "PASS" in ok.output
    bad = runner.invoke(app, ["logs", "check", "-"], input=text + "not json\n")
    assert bad.exit_code == 1
    assert "not a JSON object" in bad.output


def test_version_option_and_command_agree() -> None:
    from postplan import __version__

    option = runner.invoke(app, ["--version"])
    command = runner.invoke(app, ["version"])
    assert option.exit_code == 0 and command.exit_code == 0
    assert option.output == command.output
    assert option.output.startswith(f"postplan {__version__} ")
