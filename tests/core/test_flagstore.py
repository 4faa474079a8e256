"""Flag definitions in the database (Postgres): seeded from FLAGS_FILE when the table is empty,
re-read when the revision moves, and a corrupt stored document keeps the last good values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from postplan.core.db import create_engine
from postplan.core.flags import Flag, FlagService
from postplan.core.flagstore import FlagRevisionConflict, read_stored, write
from tests.fixtures.apps import make_settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    """Postgres only: on SQLite the definitions are a file."""
    return "postgres"


def _doc(on: bool) -> str:
    return json.dumps({"flags": {"PUBLISH_SERVICE_ENABLED": {
        "state": "ENABLED", "variants": {"on": True, "off": False},
        "defaultVariant": "on" if on else "off"}}})


async def test_seed_poll_and_a_corrupt_document_keeps_the_last_good_values(
        db_url: str, tmp_path: Path) -> None:
    seed_file = tmp_path / "flags.json"
    seed_file.write_text(_doc(True))
    service = FlagService(make_settings(db_url, FLAGS_FILE=str(seed_file)))
    assert service.store == "database"
    engine = create_engine(db_url, pool_size=1)
    try:
        assert service.is_enabled(Flag.publish_service) is False  # env, until the first poll
        assert await service.load_from_database(engine) is True  # seeds revision 1
        assert service.is_enabled(Flag.publish_service) is True
        assert service.decide(Flag.publish_service).source == "database"
        stored = await read_stored(engine)
        assert stored is not None and stored.revision == 1
        assert stored.updated_by == "file:flags.json"

        assert await write(engine, _doc(False), "cli", expected=1) == 2  # `flags set … off`
        with pytest.raises(FlagRevisionConflict):
            await write(engine, _doc(True), "cli", expected=1)
        assert await service.load_from_database(engine) is True
        assert service.is_enabled(Flag.publish_service) is False
        # A restart with the same file does not undo the CLI edit: that content was imported.
        restarted = FlagService(make_settings(db_url, FLAGS_FILE=str(seed_file)))
        await restarted.load_from_database(engine)
        assert restarted.is_enabled(Flag.publish_service) is False
        assert (await read_stored(engine)).revision == 2  # type: ignore[union-attr]
        # A new content of the file is imported once, and every process sees it.
        seed_file.write_text(_doc(True) + "\n")
        assert await restarted.load_from_database(engine) is True
        assert await service.load_from_database(engine) is True
        assert service.is_enabled(Flag.publish_service) is True
        seed_file.write_text(_doc(False))
        assert await service.load_from_database(engine) is True  # revision 4
        assert (await read_stored(engine)).revision == 4  # type: ignore[union-attr]

        async with engine.begin() as conn:
            await conn.execute(text("UPDATE flag_definitions SET document = '{not json', "
                                    "revision = revision + 1"))
        assert await service.load_from_database(engine) is False
        assert service.is_enabled(Flag.publish_service) is False  # last good values
        body = service.describe(None)["file"]
        assert body["status"] == "invalid" and body["store"] == "database"
        assert body["revision"] == 4  # the revision of the values in use

        assert await write(engine, _doc(True), "test", expected=5) == 6
        assert await service.load_from_database(engine) is True
        assert service.is_enabled(Flag.publish_service) is True
        assert service.describe(None)["file"]["status"] == "ok"
    finally:
        await engine.dispose()
