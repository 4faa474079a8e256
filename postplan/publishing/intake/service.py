"""Publishing a calendar: validate every entry × channel, record intents, queue the live ones.

Reads entries only through `postplan.calendars.service`, so a publish always sees the latest
saved (edited) entries. Nothing here talks to a channel API: dry-runs call the adapters' offline
`validate`/`build_payload` only, and live intents are left for the worker.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.calendars import service as calendars
from postplan.channels.base import Finding
from postplan.config import Settings
from postplan.core.errors import Unprocessable
from postplan.core.flags import Flag, FlagService
from postplan.core.logging import get_logger
from postplan.core.metrics import PUBLISH_RESULTS
from postplan.core.zones import shifted
from postplan.models import CalendarEntry
from postplan.publishing.connections import store as connections
from postplan.publishing.dbutil import dialect_name, insert_ignore
from postplan.publishing.gateway import ChannelGateway
from postplan.publishing.intake.manage import cancel_pending as cancel_pending  # public
from postplan.publishing.media import (
    attached_media,
    load_entry_media,
    media_signature,
    resources_for,
    with_cover,
)
from postplan.publishing.requests import build_request, dry_run_intent_id, findings_error
from postplan.publishing.schemas import PublishBody, PublishResponse, PublishResult, Summary
from postplan.publishing.states import LIVE
from postplan.publishing.tables import connections as conn_t
from postplan.publishing.tables import intents

log = get_logger(__name__)

DAY = dt.timedelta(hours=24)
_LIVE = [s.value for s in LIVE]


@dataclass
class Outcome:
    """The HTTP answer of a publish call."""

    status_code: int
    body: PublishResponse
    forced_dry_run: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)


async def _accounts(session: AsyncSession, user_id: str) -> dict[str, str]:
    rows = (await session.execute(
        select(conn_t.c.channel, conn_t.c.account_id).where(conn_t.c.user_id == user_id)
    )).all()
    return {r.channel: r.account_id for r in rows}


async def _recent_posts(session: AsyncSession, user_id: str, channels: set[str],
                        start: dt.datetime, end: dt.datetime) -> dict[str, list[dt.datetime]]:
    """Times of live posts per channel in [start, end], sorted (for the daily-quota checks)."""
    moment = func.coalesce(intents.c.submitted_at, intents.c.run_after)
    rows = (await session.execute(
        select(intents.c.channel, moment.label("at")).where(
            intents.c.user_id == user_id, intents.c.dry_run.is_(False),
            intents.c.channel.in_(channels), intents.c.status.in_(_LIVE),
            moment >= start, moment <= end,
        )
    )).all()
    out: dict[str, list[dt.datetime]] = defaultdict(list)
    for r in rows:
        out[r.channel].append(r.at)
    for times in out.values():
        times.sort()
    return out


async def _live_intents(session: AsyncSession, keys: list[tuple[uuid.UUID, str]]
                        ) -> dict[tuple[uuid.UUID, str], tuple[uuid.UUID, str]]:
    if not keys:
        return {}
    found: dict[tuple[uuid.UUID, str], tuple[uuid.UUID, str]] = {}
    entry_ids = list({k[0] for k in keys})
    for i in range(0, len(entry_ids), 1000):
        rows = (await session.execute(
            select(intents.c.id, intents.c.entry_id, intents.c.channel, intents.c.status).where(
                intents.c.entry_id.in_(entry_ids[i:i + 1000]), intents.c.dry_run.is_(False),
                intents.c.status.in_(_LIVE))
        )).all()
        for r in rows:
            found[(r.entry_id, r.channel)] = (r.id, r.status)
    return found


#: Findings about the posting choices a person must make (TikTok's content posting rules): a
#: live publish where nothing else could be queued is refused (422) with the first one; else
#: the posts lacking a choice fail like any other finding. A dry run reports them.
CHOICE_CODES = ("tiktok_privacy_required", "tiktok_branded_content_private",
                "tiktok_music_not_confirmed")


def choice_refusal(entry_id: uuid.UUID, findings: list[Finding]) -> Unprocessable | None:
    """The 422 for a live publish whose post lacks a required choice (the first choice finding's
    code), or None."""
    for code in CHOICE_CODES:
        hit = next((f for f in findings if f.code == code), None)
        if hit is not None:
            return Unprocessable(hit.message, code=code, extra={
                "entryId": str(entry_id),
                "errors": [{"field": hit.field, "message": hit.message}]})
    return None


async def select_entries(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                         body: PublishBody) -> list[CalendarEntry]:
    """The latest saved entries the request names (all when `entryIds` is absent)."""
    rows, _ = await calendars.list_entries(session, user_id, calendar_id,
                                           entry_ids=body.entry_ids)
    if body.entry_ids is not None:
        missing = set(body.entry_ids) - {r.id for r in rows}
        if missing:
            raise Unprocessable(
                f"{len(missing)} entry id(s) are not in this calendar",
                code="entry_not_found",
                extra={"entryIds": sorted(str(m) for m in missing)},
            )
    wanted = {c.value for c in body.channels} if body.channels else None
    return [r for r in rows if wanted is None or r.channel in wanted]


async def publish_calendar(
    session: AsyncSession, *, settings: Settings, flags: FlagService, gateway: ChannelGateway,
    user_id: str, calendar_id: uuid.UUID, body: PublishBody, request_id: str | None,
    now: dt.datetime,
) -> Outcome:
    """Validate and record one intent per selected entry × its channel (docs/contract.md §2)."""
    forced = not flags.is_enabled(Flag.publish_service, user_id)
    dry = body.dry_run or forced
    entries = await select_entries(session, user_id, calendar_id, body)
    channels = sorted({e.channel for e in entries})
    if not dry:
        for channel in channels:
            await connections.check_ready(session, settings, user_id, channel, now)
    accounts = await _accounts(session, user_id)

    existing: dict[tuple[uuid.UUID, str], tuple[uuid.UUID, str]] = {}
    recent: dict[str, list[dt.datetime]] = {}
    if entries:
        start = shifted(min(e.scheduled_at for e in entries), -DAY)
        end = shifted(max(max(e.scheduled_at for e in entries), now), DAY)
        recent = await _recent_posts(session, user_id, set(channels), start, end)
        if not dry:
            existing = await _live_intents(session, [(e.id, e.channel) for e in entries])
    planned: dict[str, list[dt.datetime]] = {c: list(recent.get(c, [])) for c in channels}

    results: list[PublishResult] = []
    rows: list[dict[str, Any]] = []
    summary = Summary()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    adapters = {channel: gateway.adapter(channel) for channel in channels}
    stored = await load_entry_media(session, user_id, entries)
    media_res = resources_for(settings)
    refusal: Unprocessable | None = None
    for entry in entries:
        adapter = adapters[entry.channel]
        intent_id = (dry_run_intent_id(user_id, entry, body.when, body.privacy_level)
                     if dry else uuid.uuid4())
        signature = media_signature(entry, stored) if dry else ""
        if signature:
            # The verdict on stored files changes as they finish processing: a new dry-run
            # intent then, not the earlier one (kept by the insert-if-absent below).
            intent_id = uuid.uuid5(intent_id, signature)
        refs, media_findings = attached_media(entry, stored, media_res)
        req = build_request(entry, intent_id=intent_id, when=body.when, now=now,
                            account_id=accounts.get(entry.channel, "unconnected"),
                            privacy_level=body.privacy_level, media=refs)
        at = req.scheduled_at
        times = planned[entry.channel]
        in_window = bisect.bisect_right(times, at) - bisect.bisect_right(times, shifted(at, -DAY))
        findings = media_findings + adapter.validate(req, now=now, posts_in_last_24h=in_window)
        if not dry and refusal is None:
            refusal = choice_refusal(entry.id, findings)
        payload = adapter.build_payload(with_cover(req, stored, media_res))
        error = findings_error(findings)
        summary.total += 1
        if dry:
            status = "dry_run"
            if error:
                summary.failed += 1
            else:
                summary.succeeded += 1
        else:
            prior = existing.get((entry.id, entry.channel))
            if prior is not None:
                summary.skipped += 1
                code = "already_published" if prior[1] == "published" else "already_queued"
                results.append(PublishResult.model_construct(
                    intent_id=prior[0], entry_id=entry.id, channel=entry.channel,
                    status="skipped", payload=payload,
                    error={"code": code, "message": f"this entry already has a {prior[1]} "
                                                    f"{entry.channel} publish"}))
                continue
            if error:
                status = "failed"
                summary.failed += 1
            else:
                status = "pending"
                summary.queued += 1
                bisect.insort(times, at)
        # A dry run that found problems is counted apart, so its own alert can fire (appendix:
        # "adapter failure (dry-run): record failure reason ... alert if threshold exceeded")
        # without it inflating the live failure rate.
        if dry:
            label = "dry_run_failed" if error else "dry_run"
        else:
            label = "queued" if status == "pending" else "failed"
        counts[(entry.channel, label)] += 1
        results.append(PublishResult.model_construct(
            intent_id=intent_id, entry_id=entry.id, channel=entry.channel, status=status,
            error=error, payload=payload))
        rows.append({
            "id": intent_id, "calendar_id": calendar_id, "run_id": entry.run_id,
            "entry_id": entry.id, "user_id": user_id, "channel": entry.channel,
            "payload": payload, "status": status, "error": error, "dry_run": dry,
            "when": body.when, "entry_version": entry.version,
            "run_after": req.scheduled_at if status == "pending" else None,
            "attempts": 0, "request_id": request_id, "created_at": now, "updated_at": now,
            # The worker's input; a dry run is never sent, so it needs none.
            "request": None if dry else req.model_dump(mode="json"),
            "account_id": accounts.get(entry.channel),
            "polls": 0,
        })

    if refusal is not None and summary.queued == 0:
        # Nothing could go out and a post lacks a choice only the person can make: refuse the
        # call (422) rather than record failures. With other posts queued, those items fail.
        raise refusal
    for (channel, label), n in counts.items():
        PUBLISH_RESULTS.labels(channel=channel, outcome=label).inc(n)
    if rows:
        inserted = await _insert(session, rows, returning=not dry)
        if not dry and len(inserted) != len(rows):
            # A concurrent publish of the same entry won the race: ours is a skip, not a post.
            lost = {r["id"] for r in rows} - inserted
            for i, res in enumerate(results):
                if res.intent_id in lost:
                    summary.queued -= res.status == "pending"
                    summary.failed -= res.status == "failed"
                    summary.skipped += 1
                    results[i] = res.model_copy(update={
                        "status": "skipped",
                        "error": {"code": "already_queued",
                                  "message": "another publish of this entry was queued first"}})
    status_code = 207 if summary.failed else 200
    log.info("publish.recorded", calendarId=str(calendar_id), dryRun=dry, forced=forced,
             total=summary.total, queued=summary.queued, failed=summary.failed,
             skipped=summary.skipped, status=str(status_code))
    response = PublishResponse.model_construct(dry_run=dry, summary=summary, results=results)
    return Outcome(status_code, response,
                   forced_dry_run=forced, rows=rows)


async def _insert(session: AsyncSession, rows: list[dict[str, Any]], *,
                  returning: bool) -> set[uuid.UUID]:
    """Bulk insert; rows whose id or live (entry, channel) already exists are skipped.

    Dry-run rows need no RETURNING (a deterministic id already recorded is the same intent).
    On Postgres every row goes in one `INSERT … SELECT FROM unnest(…)` statement.
    """
    if dialect_name(session) == "postgresql":
        return await _insert_unnest(session, rows, returning=returning)
    stmt = insert_ignore(intents, dialect_name(session))
    if not returning:
        conn = await session.connection()
        await conn.execute(stmt, rows)
        return {r["id"] for r in rows}
    inserted: set[uuid.UUID] = set()
    for i in range(0, len(rows), 1000):
        result = await session.execute(stmt.returning(intents.c.id), rows[i:i + 1000])
        inserted.update(result.scalars().all())
    return inserted


#: column → Postgres array type for the unnest insert; JSON columns travel as text.
_UNNEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"), ("calendar_id", "uuid"), ("run_id", "uuid"), ("entry_id", "uuid"),
    ("user_id", "text"), ("channel", "text"), ("payload", "jsonb"), ("status", "text"),
    ("error", "jsonb"), ("dry_run", "boolean"), ("when", "text"), ("entry_version", "int"),
    ("run_after", "timestamptz"), ("attempts", "int"), ("request_id", "text"),
    ("created_at", "timestamptz"), ("updated_at", "timestamptz"), ("request", "jsonb"),
    ("account_id", "text"), ("polls", "int"),
)
_JSON = {"payload", "error", "request"}


async def _insert_unnest(session: AsyncSession, rows: list[dict[str, Any]], *,
                         returning: bool) -> set[uuid.UUID]:
    names = ", ".join(f'"{c}"' for c, _ in _UNNEST_COLUMNS)
    arrays = ", ".join(f"${i + 1}::{t}[]" for i, (_, t) in enumerate(_UNNEST_COLUMNS))
    sql = (f"INSERT INTO publish_intents ({names}) SELECT * FROM unnest({arrays}) "
           "ON CONFLICT DO NOTHING" + (" RETURNING id" if returning else ""))
    columns: list[list[Any]] = []
    for name, _ in _UNNEST_COLUMNS:
        if name in _JSON:
            columns.append([None if r[name] is None else json.dumps(r[name]) for r in rows])
        else:
            columns.append([r[name] for r in rows])
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if returning:
        records = await driver.fetch(sql, *columns)
        return {r["id"] for r in records}
    await driver.execute(sql, *columns)
    return {r["id"] for r in rows}
