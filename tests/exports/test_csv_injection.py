"""CSV formula injection (OWASP): no exported cell can start a formula, whatever blank or
full-width form the trigger hides behind, and the guard still round-trips exactly."""

from __future__ import annotations

import unicodedata

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postplan.exports.text import from_spreadsheet_safe, spreadsheet_safe
from tests.exports.factories import seed_calendar
from tests.exports.parsing import csv_rows

pytestmark = pytest.mark.timeout(90)

ASCII_TRIGGERS = "=+-@"
#: Full-width and small forms a spreadsheet (or an import wizard) folds to the ASCII ones.
WIDE_TRIGGERS = "\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b"
BLANKS = " \t\r\n\u00a0\u3000\u2003\u200a\ufeff"

HOSTILE = (
    "=1+1", " =1+1", "  +SUM(A1:A9)", "\t-2", "\r=cmd|' /C calc'!A0", "\n@SUM(1)",
    "\u3000\uff1dHYPERLINK(\"http://evil.test\")", "\uff0b1 555 0100", "\uff0d5% off",
    "\uff20everyone", "\u00a0=2*3", "\ufe66DDE()", " \ufe62 1", "'=already quoted",
)


def formula_start(cell: str) -> bool:
    """Whether a spreadsheet that skips blanks and folds width would see a formula."""
    if cell.startswith("'"):
        return False
    folded = unicodedata.normalize("NFKC", cell).lstrip(BLANKS + "\u2000\u2001\u2002")
    return folded[:1] in set(ASCII_TRIGGERS) or cell[:1] in ("\t", "\r")


@given(st.text(BLANKS, max_size=3), st.sampled_from(ASCII_TRIGGERS + WIDE_TRIGGERS),
       st.text(max_size=20))
@settings(max_examples=300, deadline=None)
def test_the_guard_catches_blank_and_wide_triggers_and_round_trips(
        blanks: str, trigger: str, rest: str) -> None:
    value = blanks + trigger + rest
    safe = spreadsheet_safe(value)
    assert safe.startswith("'"), repr(value)
    assert not formula_start(safe)
    assert from_spreadsheet_safe(safe) == value


async def test_exported_csv_cells_never_start_a_formula(live_client: httpx.AsyncClient,
                                                        db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=len(HOSTILE), texts=HOSTILE)
    for fmt, column in (("csv", "caption"), ("csv-bulk", "Text")):
        res = await live_client.post(f"/v1/calendars/{seeded.calendar_id}/export",
                                     json={"format": fmt})
        assert res.status_code == 200, res.text
        rows = csv_rows(res.content)
        assert len(rows) == len(HOSTILE)
        for row in rows:
            for name, cell in row.items():
                assert not formula_start(cell), (fmt, name, cell)
        texts = [from_spreadsheet_safe(r[column]) for r in rows]
        if fmt == "csv":
            assert {t.split("\n\n")[0] for t in texts} == set(HOSTILE)
        else:  # the composed post text: hook first, then the (trimmed) caption
            assert all(any(h.strip() in t.split("\n\n")[1] for t in texts) for h in HOSTILE)
    # The guarded file imports back to the same text (the guard quote is removed exactly).
    body = (await live_client.post(f"/v1/calendars/{seeded.calendar_id}/export",
                                   json={"format": "csv"})).content
    again = await live_client.post("/v1/calendars/import", content=body,
                                   headers={"content-type": "text/csv"})
    assert again.status_code == 200 and again.json()["unchanged"] == len(HOSTILE), again.text
