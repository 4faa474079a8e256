"""The channels package's public surface cannot drift by accident."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import postplan.channels as channels


def test_all_is_sorted_and_complete() -> None:
    public = sorted(name for name in vars(channels)
                    if not name.startswith("_") and not isinstance(vars(channels)[name],
                                                                   type(channels)))
    assert channels.__all__ == sorted(channels.__all__)
    assert sorted(channels.__all__) == public


def test_every_name_is_importable() -> None:
    for name in channels.__all__:
        assert getattr(channels, name) is not None


@pytest.mark.parametrize("module", ["postplan.channels.tiktok", "postplan.channels.instagram",
                                    "postplan.channels.base"])
def test_subpackage_exports(module: str) -> None:
    mod = importlib.import_module(module)
    assert len(set(mod.__all__)) == len(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name)


def test_the_edge_imports_no_framework_or_database() -> None:
    root = Path(channels.__file__).parent
    banned = ("fastapi", "starlette", "sqlalchemy", "postplan.models", "postplan.publishing")
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(banned), (path.name, name)
