"""`.env.example` lists every setting (issue 17): the same names as Settings, each default
valid, and nothing it names that Settings does not read."""

from __future__ import annotations

import re
from pathlib import Path

from postplan.config import Settings

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
#: Read by commands (Typer envvars), not by Settings; listed commented out.
COMMAND_ONLY = {"FORWARDED_ALLOW_IPS", "WORKER_METRICS_PORT", "POSTPLAN_SMOKE_TOKEN",
                "POSTPLAN_TOKEN"}


def example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = LINE.match(line)
        if match:
            assert match.group(1) not in values, f"{match.group(1)} listed twice"
            values[match.group(1)] = match.group(2)
    return values


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    settings = {field.alias for field in Settings.model_fields.values()}
    listed = set(example())
    assert settings - listed == set(), "add these to .env.example"
    assert listed - settings == set(), "not a setting (commands' variables go commented out)"


def test_env_example_values_are_the_defaults() -> None:
    # Loading the file as-is gives exactly the defaults: copying it to .env changes nothing.
    from_file = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_file.model_dump() == defaults.model_dump()


def test_command_variables_are_documented_commented_out() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in COMMAND_ONLY:
        assert f"# {name}=" in text, name
