"""Schemathesis over /openapi.json against the live app: every input surface, every check.

The app runs under real uvicorn on loopback, on SQLite and on Postgres, in dev auth and in
Supabase auth (a signed JWT), with a seeded calendar and both flags on so the live paths are
reachable. Schemathesis's CLI runs all four phases — examples, coverage (boundary and invalid
values for every body field, query and path parameter and header), fuzzing, and stateful
sequences that follow the document's OpenAPI links — with `--checks all`: no 5xx, status codes,
content types, headers and bodies as documented, schema-invalid requests refused,
schema-valid ones accepted (save the documented exceptions in tests/faults/schemathesis_hooks.py),
unsupported methods answered 405 with a true `Allow`, auth not ignored, and more.

CI runs a bounded, seeded campaign (`SCHEMATHESIS_EXAMPLES`, default 8 examples per operation,
seed `SCHEMATHESIS_SEED`): the same requests on every run, in every mode the coverage phase's
invalid values (every boundary and wrong type of every field, parameter and header, ~1,000
requests), then the random and stateful phases; positive briefs and import files are kept small
(tests/faults/schemathesis_hooks.py).
`SCHEMATHESIS_CAMPAIGN=1` is the long local campaign: every phase in every mode, full-size
briefs and files, and as many examples as `SCHEMATHESIS_EXAMPLES` asks.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.factories import seed_calendar

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "8"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261206"))
CAMPAIGN = os.environ.get("SCHEMATHESIS_CAMPAIGN") == "1"
#: Seconds one mode may take: CI's bounded run is well under this; a campaign may take hours.
BUDGET = 4 * 3600 if CAMPAIGN else 800

pytestmark = [pytest.mark.faults, pytest.mark.live, pytest.mark.timeout(BUDGET + 100)]
ALL_PHASES = "examples,coverage,fuzzing,stateful"
USER = "schemathesis"
JWT_SECRET = "fuzz-secret-that-is-long-enough-for-hs256"
ROOT = Path(__file__).resolve().parents[2]

#: The default statuses for schema-invalid data, plus 413: a collection over its `maxItems`
#: (an import file with too many rows) is refused as too large, which is what it is.
NEGATIVE_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "5xx"]


def _config(path: Path) -> Path:
    lines = [
        'hooks = "tests.faults.schemathesis_hooks"',
        "[checks.negative_data_rejection]",
        f"expected-statuses = {json.dumps(NEGATIVE_STATUSES)}",
        "[phases.stateful]",
        "max-steps = 6",
    ]
    # Unknown query parameters are ignored by design (a cache-buster must not break a GET);
    # unknown body fields are refused (InputSchema forbids them), which is still fuzzed.
    lines += ["[generation]", "allow-extra-parameters = false"]
    if not CAMPAIGN:
        # CI: the coverage phase's ~1,000 invalid values of every field, parameter and header;
        # its ~2,000 valid combinations (two thirds of the time) are the campaign's.
        lines += ["[phases.coverage.generation]", 'mode = "negative"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _auth_header(auth: str) -> str:
    if auth == "dev":
        return f"X-User-Id: {USER}"
    token = jwt.encode({"sub": USER, "aud": "authenticated", "role": "authenticated",
                        "exp": int(time.time()) + 3600}, JWT_SECRET, algorithm="HS256")
    return f"Authorization: Bearer {token}"


@pytest.fixture
def live_api(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    auth: str = request.param
    asyncio.run(seed_calendar(db_url, user_id=USER, entries=5))
    extra: dict[str, Any] = {}
    if auth == "supabase":
        extra = {"AUTH_MODE": "supabase", "SUPABASE_JWT_SECRET": JWT_SECRET}
    settings = make_settings(db_url, SPOOL_DIR=str(tmp_path / "spool"),
                             CALENDAR_SERVICE_ENABLED=True, PUBLISH_SERVICE_ENABLED=True,
                             TOKEN_ENCRYPTION_KEY="k" * 32, TIKTOK_CLIENT_KEY="ck",
                             TIKTOK_CLIENT_SECRET="cs", INSTAGRAM_APP_ID="ia",
                             INSTAGRAM_APP_SECRET="is", TIKTOK_API_BASE="http://127.0.0.1:9",
                             INSTAGRAM_API_BASE="http://127.0.0.1:9", **extra)
    with live_server(build_app(settings)) as server:
        yield server.url


def run_schemathesis(base_url: str, auth: str, phases: str,
                     workdir: Path) -> tuple[int, str, list[dict[str, Any]]]:
    """Run the CLI against `base_url`; (exit code, output, request log)."""
    log = workdir / "requests.jsonl"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color",
        "--config-file", str(_config(workdir / "schemathesis.toml")),
        "run", f"{base_url}/openapi.json", "--checks", "all", "--phases", phases,
        "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--generation-database", "none",
        "--workers", "1", "--request-timeout", "30", "--header", _auth_header(auth),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "POSTPLAN_FUZZ_LOG": str(log)}
    if not CAMPAIGN:
        env["POSTPLAN_FUZZ_SMALL"] = "1"
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=BUDGET, check=False)
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done.returncode, done.stdout + done.stderr, records


@pytest.mark.parametrize("live_api", ["dev", "supabase"], indirect=True)
def test_every_input_surface_gets_a_documented_4xx_never_a_5xx(
        live_api: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    auth = request.node.callspec.params["live_api"]
    phases = ALL_PHASES
    started = time.monotonic()
    code, output, records = run_schemathesis(live_api, auth, phases, tmp_path)
    seconds = time.monotonic() - started
    calls = [r for r in records if r["kind"] == "call"]
    statuses = collections.Counter(r["status"] for r in calls)
    waived = collections.Counter(f"{r['failure']}:{r['code']}" for r in records
                                 if r["kind"] == "waived")
    operations = {r["operation"] for r in calls}
    print(f"\nschemathesis[{backend}-{auth}] {phases}: {len(calls)} requests over "
          f"{len(operations)} operations in {seconds:.0f} s, statuses "
          f"{dict(sorted(statuses.items()))}, waived {dict(waived)}")
    assert len(operations) >= 20, output[-6000:]
    assert not [s for s in statuses if s >= 500], output[-6000:]
    assert code == 0, output[-12000:]
