"""Exports: render a calendar's latest saved entries, manage its ICS feed token, import files.

Entries are read, and imported entries and feed tokens written, only through
`postplan.calendars.service` (the calendars domain's public module).
"""

from __future__ import annotations

import codecs
import hashlib
import re
import secrets
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postplan.calendars import service as calendars
from postplan.core.entryfields import media_items, stored_media_id
from postplan.core.errors import AppError, Unprocessable
from postplan.exports.files import ExportFile, ExportFormat, render
from postplan.exports.readers import ParsedFile, natural_key_id, read_csv, read_json, validate_row
from postplan.exports.schemas import ImportReport
from postplan.media import service as media

#: Rows read per database round trip while rendering.
EXPORT_BATCH = 500
#: What a feed token looks like (`secrets.token_urlsafe(32)` gives 43 such characters).
FEED_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{32,128}$"
_TOKEN = re.compile(FEED_TOKEN_PATTERN)


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


async def export_calendar(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                          fmt: ExportFormat) -> ExportFile:
    """Render the calendar's latest saved entries (404 for another user's calendar)."""
    calendar = await calendars.get_calendar(session, user_id, calendar_id)
    rows = calendars.iterate_entries(session, user_id, calendar_id, batch=EXPORT_BATCH)
    return await render(calendar, rows, fmt)


def hash_token(token: str) -> str:
    """The stored form of a feed token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def rotate_feed_token(session: AsyncSession, user_id: str,
                            calendar_id: uuid.UUID) -> str:
    """Create or replace the calendar's feed token; the previous one stops working at once."""
    await calendars.get_calendar(session, user_id, calendar_id)
    token = secrets.token_urlsafe(32)
    await calendars.set_feed_token_hash(session, user_id, calendar_id, hash_token(token))
    return token


async def revoke_feed_token(session: AsyncSession, user_id: str, calendar_id: uuid.UUID) -> None:
    """Revoke the calendar's feed token (idempotent)."""
    await calendars.get_calendar(session, user_id, calendar_id)
    await calendars.set_feed_token_hash(session, user_id, calendar_id, None)


async def feed_revision(session: AsyncSession, token: str) -> calendars.CalendarRevision | None:
    """The revision of the calendar behind a feed token (owner, id, what identifies its
    content), or None for an unknown or revoked token. One query; no entry is read."""
    if not _TOKEN.match(token):
        return None
    return await calendars.revision_by_feed_hash(session, hash_token(token))


def _decode(body: bytes, charset: str) -> str:
    try:
        codec = codecs.lookup(charset)
    except LookupError as exc:
        raise Unprocessable(f"unknown charset {charset[:40]!r}", code="invalid_encoding") from exc
    # `rot13`, `hex`, `zlib_codec`, `base64` … are codecs but not text encodings: bytes.decode
    # raises TypeError/LookupError for them (a 500 before), so only text encodings are read.
    if not getattr(codec, "_is_text_encoding", True):
        raise Unprocessable(f"{charset[:40]!r} is not a text encoding", code="invalid_encoding")
    try:
        return body.decode(codec.name)
    except (UnicodeError, ValueError, TypeError, LookupError) as exc:
        raise Unprocessable(f"the file is not valid {charset[:40]} text (send UTF-8, or name the "
                            "charset in Content-Type)", code="invalid_encoding") from exc


def parse_file(body: bytes, content_type: str) -> ParsedFile:
    """Read a JSON export (`application/json`) or a CSV (`text/csv`; a `charset` parameter,
    e.g. windows-1252 from an old spreadsheet, is honoured; UTF-8 otherwise)."""
    kind, _, params = content_type.partition(";")
    kind = kind.strip().lower()
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    if kind in ("application/json", ""):
        return read_json(_decode(body, charset))
    if kind in ("text/csv", "application/csv", "text/plain"):
        return read_csv(_decode(body, charset))
    raise UnsupportedMediaType("send a JSON export as application/json or a CSV as text/csv")


async def _own_media_only(session: AsyncSession, user_id: str,
                          specs: list[calendars.EntrySpec],
                          errors: list[dict[str, Any]]) -> list[calendars.EntrySpec]:
    """Rows naming a media id that is not one of the user's files are reported and skipped
    (an export from another account carries ids this user cannot attach)."""
    ids = {mid for s in specs for m in s.media if (mid := stored_media_id(m)) is not None}
    if not ids:
        return specs
    owned = set(await media.get_user_media(session, user_id, sorted(ids)))
    kept = []
    for spec in specs:
        missing = [str(mid) for m in spec.media
                   if (mid := stored_media_id(m)) is not None and mid not in owned]
        if missing:
            errors.append({"row": spec.row, "field": "media",
                           "message": f"media {', '.join(missing)} not found"})
        else:
            kept.append(spec)
    return kept


async def import_file(session: AsyncSession, user_id: str, parsed: ParsedFile,
                      calendar_id: uuid.UUID | None,
                      max_entries: int | None = None) -> ImportReport:
    """Write a parsed file's entries into one of the user's calendars, idempotently by id.

    Rows that fail validation or would overwrite someone else's entry are reported and skipped;
    when no row can be written the whole import is refused (422) and nothing is stored. When
    the new entries would take the calendar beyond `max_entries`, the whole import is refused
    (413 `calendar_too_large`) and nothing is stored.
    """
    spec: calendars.CalendarSpec | None = None
    if parsed.calendar is not None:
        c = parsed.calendar
        spec = calendars.CalendarSpec(id=c.id, name=c.name, timezone=c.timezone, brief=c.brief,
                                      created_at=c.created_at, updated_at=c.updated_at)
    target = calendar_id or (None if spec is not None else parsed.calendar_hint)
    if target is None and spec is None:
        raise Unprocessable("name the target calendar with calendarId (CSV files hold none)",
                            code="calendar_required")
    calendar, created = await calendars.resolve_calendar(session, user_id, target, spec)
    errors: list[dict[str, Any]] = []
    specs: list[calendars.EntrySpec] = []
    for row, raw in parsed.rows:
        entry, row_errors = validate_row(row, raw, calendar.timezone)
        if entry is None:
            errors.extend(row_errors)
            continue
        options: dict[str, Any] | None = None
        if entry.channel_options is not None:
            try:
                options = calendars.entry_options(str(entry.channel), entry.channel_options)
            except Unprocessable as exc:
                errors.append({"row": row, "field": "channelOptions", "message": exc.detail})
                continue
        specs.append(calendars.EntrySpec(
            row=row, id=entry.id or natural_key_id(calendar.id, entry), channel_options=options,
            channel=str(entry.channel), format=str(entry.format),
            scheduled_at=entry.scheduled_at, timezone=entry.timezone, pillar=entry.pillar,
            hook=entry.hook, caption=entry.caption, hashtags=list(entry.hashtags),
            call_to_action=entry.call_to_action, asset_notes=entry.asset_notes,
            media=media_items(entry.media),
            version=entry.version, edited=entry.edited, updated_at=entry.updated_at,
        ))
    specs = await _own_media_only(session, user_id, specs, errors)
    outcome = await calendars.upsert_entries(session, user_id, calendar, specs, max_entries)
    errors.extend(outcome.errors)
    errors.sort(key=lambda e: (e["row"], e["field"]))
    written = outcome.created + outcome.updated + outcome.unchanged
    if errors and written == 0:
        raise Unprocessable(f"no row could be imported ({len(errors)} errors)",
                            code="import_rejected", extra={"errors": errors})
    return ImportReport.build(
        calendar_id=calendar.id, calendar_created=created, kind=parsed.kind,
        total=len(parsed.rows), created=outcome.created, updated=outcome.updated,
        unchanged=outcome.unchanged, failed=len(parsed.rows) - written, errors=errors,
    )
