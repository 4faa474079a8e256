"""Credentials that travel in URLs never reach a log line.

The ICS feed token is the whole credential of `GET /v1/feeds/{token}.ics`: a calendar app can
send no header, so the secret sits in the path. Redaction therefore works on the route pattern,
not inside one handler: everything after a secret prefix is replaced, whatever the method, the
status (404, 405), the spelling of the prefix (`//v1/Feeds/`, `%2F`) or where the text turns up
(the request path, a Referer, a query string, an error message). On top of that the request
middleware remembers the secret it saw in the path (`remember_path_secrets`), and every log line
written while that request runs has that exact string removed from every field.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any

#: Path prefixes whose remainder is a credential (lower case, no trailing slash).
SECRET_PATH_PREFIXES = ("/v1/feeds",)

REDACTED = "***"

# A slash, raw or percent-encoded, one or more times: paths are matched as clients spell them.
_SLASH = r"(?:/|%2[fF]|\\)+"


def _prefix_pattern(prefix: str) -> str:
    parts = [re.escape(p) for p in prefix.strip("/").split("/")]
    return _SLASH + _SLASH.join(parts)


_PREFIXES = "|".join(_prefix_pattern(p) for p in SECRET_PATH_PREFIXES)
# In a whole path (behind any root path): the prefix, then everything after it.
_PATH = re.compile(rf"(?P<prefix>{_PREFIXES})(?P<rest>{_SLASH}.*)$", re.IGNORECASE | re.DOTALL)
# In free text (a Referer, a message, a traceback): the prefix, then the run of URL characters.
_TEXT = re.compile(rf"(?P<prefix>{_PREFIXES}){_SLASH}(?P<secret>[^\s\"'<>?#&,;)\]}}]+)",
                   re.IGNORECASE)

#: The secrets seen in the current request's path (set by the request middleware).
_request_secrets: ContextVar[tuple[str, ...]] = ContextVar("request_secrets", default=())

#: Shorter strings are not treated as secrets (a stray `x` would blank half a line).
_MIN_SECRET = 8


_LEADING_SLASH = re.compile(rf"^{_SLASH}")
_ANY_SLASH = re.compile(_SLASH)


def _segments(rest: str) -> tuple[str, str]:
    """(everything after the prefix, its first segment), leading slashes of any spelling off."""
    rest = _LEADING_SLASH.sub("", rest)
    return rest, _ANY_SLASH.split(rest, maxsplit=1)[0]


def _keep_suffix(secret: str) -> str:
    return ".ics" if secret.lower().endswith(".ics") else ""


def redact_path(path: str) -> str:
    """The path with everything after a secret prefix replaced: `/v1/feeds/***.ics`."""
    match = _PATH.search(path)
    if match is None:
        return path
    first = _segments(match.group("rest"))[1]
    return f"{path[:match.start()]}{match.group('prefix')}/{REDACTED}{_keep_suffix(first)}"


#: Query parameters that are credentials: the signature of a signed media URL.
_QUERY_SECRET = re.compile(r"(?P<name>[?&;]sig=)[^&\s\"'<>#;]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    """Any occurrence of a secret path in free text, redacted; then signed-URL signatures;
    then the request's own secrets."""
    if "sig=" in text.lower():
        text = _QUERY_SECRET.sub(lambda m: f"{m.group('name')}{REDACTED}", text)
    if "/" in text or "%" in text or "\\" in text:
        text = _TEXT.sub(
            lambda m: f"{m.group('prefix')}/{REDACTED}{_keep_suffix(m.group('secret'))}", text)
    for secret in _request_secrets.get():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def path_secrets(path: str) -> tuple[str, ...]:
    """The credential(s) a path carries: the segment after a secret prefix, with and without
    its `.ics` suffix (both spellings must vanish from a message quoting either)."""
    match = _PATH.search(path)
    if match is None:
        return ()
    rest, first = _segments(match.group("rest"))
    bare = first[:-4] if _keep_suffix(first) else first
    found = {s for s in (rest, first, bare) if len(s) >= _MIN_SECRET}
    # Longest first, so replacing one never leaves part of a longer one behind.
    return tuple(sorted(found, key=len, reverse=True))


def remember_path_secrets(path: str, raw_path: bytes | None = None) -> None:
    """Record the current request's path secrets for every log line written while it runs.

    Set (never appended) at the start of each request, so a request without a secret clears
    what an earlier one in the same context left behind."""
    secrets = set(path_secrets(path))
    if raw_path:
        secrets.update(path_secrets(raw_path.decode("latin-1")))
    _request_secrets.set(tuple(sorted(secrets, key=len, reverse=True)))


def redact_value(value: Any) -> Any:
    """`redact_text` applied to every string inside a log value (dicts and lists included)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value
