"""The lock files the bootstrap and the image install from (requirements/*.lock) cover every
dependency pyproject.toml declares, at versions it allows, each with hashes: a dependency added
without `make lock` fails here, not on the next fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)(\s*;\s*([^\\]+))?")


def locked(name: str) -> dict[str, list[str]]:
    """{package: [version, ...]} of a lock file (universal locks may pin per platform)."""
    text = (ROOT / "requirements" / f"{name}.lock").read_text(encoding="utf-8")
    pins: dict[str, list[str]] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    for block in blocks:
        match = PIN.match(block)
        if not match:
            continue
        assert "--hash=sha256:" in block, f"{match.group(1)} has no hash"
        pins.setdefault(canonicalize_name(match.group(1).split("[")[0]), []).append(
            match.group(2))
    return pins


def declared(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    if extra:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs


@pytest.mark.parametrize(("lock", "extra"), [("runtime", None), ("test", "test")])
def test_lock_pins_every_declared_dependency_within_its_range(lock: str,
                                                              extra: str | None) -> None:
    pins = locked(lock)
    env = {**default_environment(), "extra": ""}
    problems = []
    for req in declared(extra):
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        versions = pins.get(canonicalize_name(req.name))
        if not versions:
            problems.append(f"{req.name}: not in requirements/{lock}.lock (run make lock)")
        elif not any(req.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{req.name}: locked {versions} outside {req.specifier}")
    assert not problems, problems


def test_bootstrap_installs_from_the_locks() -> None:
    script = (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements/test.lock" in script
    assert "--require-hashes -r requirements/runtime.lock" in script
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes -r /src/requirements/runtime.lock" in dockerfile
