"""Deterministic randomness: every choice derives from a sha256 of the canonical brief.

Never Python's `hash()` (salted per process) and never the wall clock.
"""

from __future__ import annotations

import hashlib
import json
import random

from postplan.generation.schemas import Brief

# Bumped whenever the planner's output for a given brief changes on purpose.
PLANNER_VERSION = "planner-2026.12-3"


def canonical_brief_json(brief: Brief) -> str:
    """The brief as sorted, compact JSON. `calendarId` is left out: adding a run to an existing
    calendar with the same brief must give the same plan."""
    data = brief.model_dump(mode="json", by_alias=True, exclude={"calendar_id"})
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def brief_digest(brief: Brief) -> bytes:
    """sha256 over the planner version and the canonical brief (which includes `seed`).
    Recomputed on every call (~35 us): briefs are mutable models, so no identity cache."""
    payload = PLANNER_VERSION + "\n" + canonical_brief_json(brief)
    return hashlib.sha256(payload.encode("utf-8")).digest()


def derived_rng(digest: bytes, *parts: object) -> random.Random:
    """An independent RNG for one purpose (e.g. one slot's copy), stable across processes."""
    h = hashlib.sha256(digest)
    for part in parts:
        h.update(b"\x1f" + str(part).encode("utf-8"))
    return random.Random(int.from_bytes(h.digest()[:8], "big"))
