"""The patterns the OpenAPI document publishes mean the same to every regex engine that reads
them: pydantic's (Rust `regex`), a JSON Schema client's (ECMA) and Python's. A fuzzer found
`^https?://\\S+$` accepted by the schema and refused by the server for a URL ending in U+0085."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from pydantic import StringConstraints, TypeAdapter, ValidationError

from postplan.core.validators import HTTP_URL_PATTERN, NOT_SPACE

URL = TypeAdapter(Annotated[str, StringConstraints(pattern=HTTP_URL_PATTERN)])
#: Every character any of the three engines counts as a space.
SPACES = [*" \t\n\r\x0b\x0c", *(chr(c) for c in range(0x1c, 0x20)), "\x85", "\xa0", "\u1680",
          *(chr(c) for c in range(0x2000, 0x200b)), "\u2028", "\u2029", "\u202f", "\u205f",
          "\u3000", "\ufeff"]


@pytest.mark.parametrize("space", SPACES, ids=[f"U+{ord(c):04X}" for c in SPACES])
def test_no_engine_sees_a_space_inside_a_url(space: str) -> None:
    with pytest.raises(ValidationError):
        URL.validate_python(f"https://example.com/a{space}b")
    assert re.fullmatch(HTTP_URL_PATTERN, f"https://example.com/a{space}b") is None
    assert re.fullmatch(NOT_SPACE, space) is None


def test_urls_people_paste_pass() -> None:
    for url in ("https://example.com/menu?x=1#top", "http://127.0.0.1:8000/a",
                "https://café.de/menü", "https://例え.jp/パス"):
        assert URL.validate_python(url) == url
