"""`postplan smoke --base-url URL`: the release smoke of the ops appendix
(docs/contract.md).

With both flags off for the smoke user it runs, each twice: generate (legacy stream), export
(json, csv, ics) and publish (dryRun) of an existing calendar, and checks that the answers are
deterministic dry runs, that no channel API was called, and (with --log-file) that the server's
log lines for the smoke's requests carry the required fields.

Export and publish need a saved calendar, and with CALENDAR_SERVICE_ENABLED off generation saves
nothing, so the smoke uses --calendar-id, else the newest calendar of the smoke user, else (a
freshly deployed, empty database) it imports the entries its own generate step streamed as the
smoke user's calendar "postplan release smoke" (`POST /v1/calendars/import`, which no flag gates)
and uses that one, now and in later smokes. `--no-import` keeps the database untouched: with no
calendar, export and publish are then "skipped (no calendar)" and the exit code is 3
(incomplete), never a pass. Exit codes: 0 all passed, 1 a check failed, 3 nothing failed but
some steps were skipped.

The smoke's own traffic must not page anyone: the calendar it imports carries placeholder media
(`SMOKE_MEDIA`), so its publish dry runs pass the channels' checks and count as `dry_run`, not
`dry_run_failed` (PostplanDryRunFailureRateHigh); nothing it does reaches a channel API.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from postplan.cli.sse import SseLineParser
from postplan.core.context import REQUIRED_LOG_FIELDS

EXIT_INCOMPLETE = 3
FLAG_NAMES = ("CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED")
#: Keys that legitimately differ between two identical dry runs (fresh ids and timestamps).
VOLATILE_KEYS = frozenset({"id", "intentId", "runId", "calendarId", "requestId", "createdAt",
                           "updatedAt", "idempotencyKey"})
#: The import file fields of an entry (docs/schemas/calendar-export.v1.json) the smoke copies
#: from a streamed entry; server-owned ones (ids, versions) are left for the server.
ENTRY_IMPORT_FIELDS = ("channel", "format", "scheduledAt", "timezone", "pillar", "hook",
                       "caption", "hashtags", "callToAction", "assetNotes", "media")
SMOKE_CALENDAR_NAME = "postplan release smoke"
#: Media for the imported smoke entries: a generated entry has none, and a dry run of an entry
#: without media fails its checks (`media_missing`), which counts towards
#: PostplanDryRunFailureRateHigh. A dry run never fetches the URL (example.com is reserved,
#: RFC 2606), so the smoke's dry runs pass and page nobody.
SMOKE_TIKTOK_CHOICES = {"tiktok": {"privacyLevel": "SELF_ONLY", "musicUsageConfirmed": True}}
SMOKE_MEDIA = {"video": {"url": "https://example.com/postplan-smoke.mp4", "type": "video"},
               "image": {"url": "https://example.com/postplan-smoke.jpg", "type": "image"}}
SMOKE_BRIEF: dict[str, Any] = {
    "brand": "postplan release smoke",
    "niche": "release checks",
    "audience": "operators",
    "channels": ["tiktok", "instagram"],
    "startDate": "2030-01-07",
    "days": 7,
    "timezone": "UTC",
}


@dataclass
class Step:
    """One line of the smoke's report."""

    name: str
    status: str  # PASS, FAIL, SKIP
    detail: str = ""


@dataclass
class SseEvent:
    event: str
    data: Any
    id: str | None = None


@dataclass
class SmokeResult:
    """Every step, and the request ids the smoke sent (to find its log lines)."""

    steps: list[Step] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 pass, 1 any failure, 3 incomplete (skips, no failure)."""
        if any(s.status == "FAIL" for s in self.steps):
            return 1
        if any(s.status == "SKIP" for s in self.steps):
            return EXIT_INCOMPLETE
        return 0


def normalise(value: Any) -> Any:
    """Drop volatile keys (ids, timestamps) recursively, so two dry runs can be compared."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def parse_sse(lines: Iterator[str]) -> Iterator[SseEvent]:
    """Minimal text/event-stream parser: `event:`, `data:` (joined), `id:`; comments skipped."""
    parser = SseLineParser()
    for raw in lines:
        event = parser.feed(raw.rstrip("\r"))
        if event is None:
            continue
        try:
            payload: Any = json.loads(event.data)
        except json.JSONDecodeError:
            payload = event.data
        yield SseEvent(event.name, payload, event.id)


def _compare(name: str, first: Any, second: Any) -> Step:
    if first == second:
        return Step(name, "PASS", "identical")
    if normalise(first) == normalise(second):
        return Step(name, "PASS", "identical apart from ids/timestamps")
    return Step(name, "FAIL", "the two answers differ: not deterministic")


def _metric_sum(text: str, name: str) -> float:
    total = 0.0
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})?\s+([0-9.eE+-]+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            total += float(match.group(2))
    return total


class Smoke:
    """Runs the steps against a live server."""

    def __init__(self, base_url: str, *, user_id: str | None = None, token: str | None = None,
                 calendar_id: str | None = None, timeout: float = 60.0,
                 create_calendar: bool = True) -> None:
        headers: dict[str, str] = {}
        if user_id:
            headers["X-User-Id"] = user_id
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers,
                                   timeout=timeout)
        self.calendar_id = calendar_id
        self.create_calendar = create_calendar
        self.generated: list[dict[str, Any]] = []
        self.tag = f"smoke-{uuid.uuid4().hex[:10]}"
        self.result = SmokeResult()

    def _rid(self) -> dict[str, str]:
        rid = f"{self.tag}-{len(self.result.request_ids) + 1}"
        self.result.request_ids.append(rid)
        return {"X-Request-ID": rid}

    def add(self, step: Step) -> None:
        self.result.steps.append(step)

    def run(self, log_file: Path | None = None) -> SmokeResult:
        """Every step in order; a failed step never stops the later ones."""
        with self.client:
            self.health()
            self.flags_off()
            attempts_before = self.adapter_calls()
            self.generate()
            calendar = self.find_calendar()
            if calendar is None and self.create_calendar:
                calendar = self.import_calendar()
            if calendar is None:
                for name in ("export (flag off)", "publish dry-run (flag off)"):
                    self.add(Step(name, "SKIP", "skipped (no calendar): the smoke user has no "
                                  "saved calendar; pass --calendar-id or see docs/runbook.md"))
            else:
                self.export(calendar)
                self.publish(calendar)
            attempts_after = self.adapter_calls()
            if attempts_before is None or attempts_after is None:
                self.add(Step("no channel API call", "SKIP", "/metrics not readable"))
            elif attempts_after == attempts_before:
                self.add(Step("no channel API call", "PASS",
                              "postplan_publish_attempts_total unchanged"))
            else:
                self.add(Step("no channel API call", "FAIL",
                              f"postplan_publish_attempts_total grew by "
                              f"{attempts_after - attempts_before:g} with flags off"))
        if log_file is not None:
            self.check_logs(log_file)
        return self.result

    def health(self) -> None:
        """GET /healthz answers 200."""
        try:
            # No request id: the server keeps /healthz out of its request log on purpose.
            response = self.client.get("/healthz")
        except httpx.HTTPError as exc:
            self.add(Step("server reachable", "FAIL", f"{type(exc).__name__}: {exc}"))
            return
        ok = response.status_code == 200
        self.add(Step("server reachable", "PASS" if ok else "FAIL",
                      f"GET /healthz → {response.status_code}"))
        if not ok:
            return
        # No request id either: probes are logged at DEBUG only.
        ready = self.client.get("/readyz")
        try:
            checks = ready.json().get("checks", {})
        except json.JSONDecodeError:
            checks = {}
        self.add(Step("server ready", "PASS" if ready.status_code == 200 else "FAIL",
                      f"GET /readyz → {ready.status_code} database={checks.get('database')}"))

    def flags_off(self) -> None:
        """Both flags must be off for the smoke user."""
        try:
            response = self.client.get("/v1/flags", headers=self._rid())
        except httpx.HTTPError as exc:
            self.add(Step("flags off for smoke user", "FAIL", str(exc)))
            return
        if response.status_code != 200:
            self.add(Step("flags off for smoke user", "FAIL",
                          f"GET /v1/flags → {response.status_code}"))
            return
        flags = response.json().get("flags", {})
        on = [n for n in FLAG_NAMES if flags.get(n, {}).get("enabled")]
        if on:
            self.add(Step("flags off for smoke user", "FAIL",
                          f"{', '.join(on)} on for this user; the release smoke runs with flags "
                          "off (pick a user outside the rollout with --user-id)"))
        else:
            self.add(Step("flags off for smoke user", "PASS", "both flags off"))

    def adapter_calls(self) -> float | None:
        """Sum of postplan_publish_attempts_total (calls to channel APIs), or None."""
        try:
            response = self.client.get("/metrics")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return _metric_sum(response.text, "postplan_publish_attempts_total")

    def _stream(self) -> tuple[int, str, list[SseEvent]]:
        with self.client.stream("POST", "/v1/ai/calendar", json=SMOKE_BRIEF,
                                headers={"Accept": "text/event-stream", **self._rid()}) as resp:
            if resp.status_code != 200:
                resp.read()
                return resp.status_code, resp.headers.get("content-type", ""), []
            events = list(parse_sse(resp.iter_lines()))
            return resp.status_code, resp.headers.get("content-type", ""), events

    def generate(self) -> None:
        """POST /v1/ai/calendar twice: legacy dry-run streams with identical entries/done."""
        answers: list[Any] = []
        for attempt in (1, 2):
            name = f"generate (flag off) #{attempt}"
            try:
                status, ctype, events = self._stream()
            except httpx.HTTPError as exc:
                self.add(Step(name, "FAIL", f"{type(exc).__name__}: {exc}"))
                continue
            problem = self._check_stream(status, ctype, events)
            if problem:
                self.add(Step(name, "FAIL", problem))
                continue
            entries = [e.data for e in events if e.event == "entry"]
            if not self.generated:
                # An entry event is `{"seq": n, "entry": {...}}`.
                self.generated = [e["entry"] for e in entries
                                  if isinstance(e, dict) and isinstance(e.get("entry"), dict)]
            self.add(Step(name, "PASS", f"legacy dry-run stream, {len(entries)} entries, done"))
            answers.append({"entries": entries,
                            "done": next(e.data for e in events if e.event == "done")})
        if len(answers) == 2:
            self.add(_compare("generate deterministic", answers[0], answers[1]))
        else:
            self.add(Step("generate deterministic", "FAIL", "needs two successful streams"))

    @staticmethod
    def _check_stream(status: int, ctype: str, events: list[SseEvent]) -> str | None:
        if status != 200:
            return f"POST /v1/ai/calendar → {status}"
        if not ctype.startswith("text/event-stream"):
            return f"content-type {ctype!r}, expected text/event-stream"
        if not events or events[0].event != "run":
            return "the stream does not start with a run event"
        run = events[0].data if isinstance(events[0].data, dict) else {}
        if run.get("mode") != "legacy" or run.get("dryRun") is not True:
            return (f"run event mode={run.get('mode')!r} dryRun={run.get('dryRun')!r}; "
                    "expected legacy dry run with CALENDAR_SERVICE_ENABLED off")
        if events[-1].event != "done":
            return f"the stream ended with {events[-1].event!r}, not done"
        bad = [e.event for e in events if e.event in ("error", "timeout")]
        if bad:
            return f"the stream carried {', '.join(bad)} events"
        if not any(e.event == "entry" for e in events):
            return "no entry events"
        return None

    def find_calendar(self) -> str | None:
        """--calendar-id, else the smoke user's newest calendar, else None."""
        if self.calendar_id:
            return self.calendar_id
        try:
            response = self.client.get("/v1/calendars", params={"limit": 1}, headers=self._rid())
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        items = response.json().get("items") or []
        return str(items[0]["id"]) if items else None

    def import_calendar(self) -> str | None:
        """An empty database: save the generated entries as the smoke user's calendar (through
        the import endpoint, which no flag gates), so export and publish have one to use."""
        name = "smoke calendar imported (empty database)"
        if not self.generated:
            self.add(Step(name, "FAIL", "no generated entries to import"))
            return None
        entries = [{k: e[k] for k in ENTRY_IMPORT_FIELDS if k in e} for e in self.generated]
        for entry in entries:
            if not entry.get("media"):
                kind = "video" if entry.get("format") in ("video", "reel") else "image"
                entry["media"] = [SMOKE_MEDIA[kind]]
            if entry.get("channel") == "tiktok" and not entry.get("channelOptions"):
                # The choices a live TikTok post needs (no silent default any more): the most
                # private level, so the smoke's dry run passes and trips no alert.
                entry["channelOptions"] = SMOKE_TIKTOK_CHOICES
        document = {"format": "postplan.calendar", "version": 1,
                    "calendar": {"name": SMOKE_CALENDAR_NAME,
                                 "timezone": SMOKE_BRIEF["timezone"], "brief": SMOKE_BRIEF},
                    "entries": entries, "entryCount": len(entries)}
        try:
            response = self.client.post("/v1/calendars/import", json=document,
                                        headers=self._rid())
        except httpx.HTTPError as exc:
            self.add(Step(name, "FAIL", f"{type(exc).__name__}: {exc}"))
            return None
        if response.status_code != 200:
            self.add(Step(name, "FAIL", f"POST /v1/calendars/import → {response.status_code}: "
                                        f"{response.text[:200]}"))
            return None
        calendar_id = str(response.json()["calendarId"])
        self.add(Step(name, "PASS", f"{len(entries)} generated entries saved as calendar "
                                    f"{calendar_id}"))
        return calendar_id

    def export(self, calendar_id: str) -> None:
        """POST export twice per format: 200, dry run, byte-identical (or id-identical)."""
        for fmt in ("json", "csv", "ics"):
            bodies: list[Any] = []
            name = f"export {fmt} (flag off)"
            for _ in (1, 2):
                try:
                    response = self.client.post(f"/v1/calendars/{calendar_id}/export",
                                                json={"format": fmt, "dryRun": True},
                                                headers=self._rid())
                except httpx.HTTPError as exc:
                    self.add(Step(name, "FAIL", f"{type(exc).__name__}: {exc}"))
                    break
                if response.status_code != 200:
                    self.add(Step(name, "FAIL", f"POST export → {response.status_code}: "
                                                f"{response.text[:200]}"))
                    break
                bodies.append(_body(response))
            if len(bodies) == 2:
                step = _compare(name + " ×2", bodies[0], bodies[1])
                self.add(step)

    def publish(self, calendar_id: str) -> None:
        """POST publish dryRun twice (fresh Idempotency-Keys): dry-run answers, identical."""
        bodies: list[Any] = []
        name = "publish dry-run (flag off)"
        for _ in (1, 2):
            try:
                response = self.client.post(
                    f"/v1/calendars/{calendar_id}/publish",
                    json={"dryRun": True, "when": "scheduled"},
                    headers={"Idempotency-Key": f"{self.tag}-{uuid.uuid4().hex}", **self._rid()})
            except httpx.HTTPError as exc:
                self.add(Step(name, "FAIL", f"{type(exc).__name__}: {exc}"))
                return
            if response.status_code not in (200, 207):
                self.add(Step(name, "FAIL", f"POST publish → {response.status_code}: "
                                            f"{response.text[:200]}"))
                return
            body = response.json()
            if body.get("dryRun") is not True:
                self.add(Step(name, "FAIL", "the answer is not a dry run (dryRun != true)"))
                return
            live = [r for r in body.get("results", []) if r.get("status") not in
                    ("dry_run", "failed", "skipped")]
            if live:
                self.add(Step(name, "FAIL", f"{len(live)} result(s) not dry_run: "
                                            f"{sorted({r.get('status') for r in live})}"))
                return
            bodies.append(body)
        summary = bodies[0].get("summary", {})
        codes: dict[str, int] = {}
        for item in bodies[0].get("results", []):
            code = (item.get("error") or {}).get("code")
            if code:
                codes[f"{item.get('channel')}:{code}"] = codes.get(
                    f"{item.get('channel')}:{code}", 0) + 1
        reasons = f"; item errors {codes}" if codes else ""
        self.add(Step(name, "PASS", f"dryRun true, summary {json.dumps(summary)}{reasons}"))
        self.add(_compare(name + " ×2 deterministic", bodies[0], bodies[1]))

    def check_logs(self, log_file: Path) -> None:
        """The server's lines for the smoke's requests carry the six required fields."""
        name = "log lines carry required fields"
        if not log_file.exists():
            self.add(Step(name, "FAIL", f"{log_file} does not exist"))
            return
        wanted = set(self.result.request_ids)
        seen: set[str] = set()
        lines = bad = not_json = 0
        missing: dict[str, int] = {}
        with log_file.open(encoding="utf-8", errors="replace") as handle:
            for raw in handle:
                if not any(tag in raw for tag in (self.tag,)):
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError:
                    not_json += 1
                    continue
                if record.get("requestId") not in wanted:
                    continue
                lines += 1
                seen.add(str(record["requestId"]))
                lacking = [f for f in REQUIRED_LOG_FIELDS if f not in record]
                if lacking:
                    bad += 1
                    for f in lacking:
                        missing[f] = missing.get(f, 0) + 1
        unlogged = len(wanted - seen)
        if bad or not_json or lines == 0 or unlogged:
            detail = (f"{lines} lines for the smoke's requests; {bad} missing fields "
                      f"{missing or ''}; {not_json} not JSON; {unlogged} request(s) never logged")
            self.add(Step(name, "FAIL", detail))
        else:
            self.add(Step(name, "PASS", f"{lines} lines for {len(seen)} requests, all six "
                                        "fields present"))


def _body(response: httpx.Response) -> Any:
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except json.JSONDecodeError:
            pass
    return response.content


def render(result: SmokeResult, console: Console) -> None:
    """The pass/fail table and the verdict."""
    table = Table(title="postplan release smoke (flags off)")
    for column in ("step", "result", "detail"):
        table.add_column(column)
    colours = {"PASS": "green", "FAIL": "red", "SKIP": "yellow"}
    for step in result.steps:
        table.add_row(step.name, f"[{colours[step.status]}]{step.status}[/]", step.detail)
    console.print(table)
    verdict = {0: "PASS", 1: "FAIL", EXIT_INCOMPLETE: "INCOMPLETE"}[result.exit_code]
    console.print(f"smoke: {verdict}")


def register(app: typer.Typer) -> None:
    """Mount `postplan smoke`."""

    @app.command()
    def smoke(
        base_url: str = typer.Option(..., "--base-url", help="The server, e.g. "
                                                             "http://127.0.0.1:8000"),
        log_file: Path | None = typer.Option(None, "--log-file",
                                             help="The server's LOG_FILE, to check its lines."),
        user_id: str = typer.Option("smoke", "--user-id",
                                    help="X-User-Id (AUTH_MODE=dev); outside any rollout."),
        token: str | None = typer.Option(None, "--token", envvar="POSTPLAN_SMOKE_TOKEN",
                                         help="Bearer token (AUTH_MODE=supabase)."),
        calendar_id: str | None = typer.Option(None, "--calendar-id",
                                               help="Calendar to export/publish (default: "
                                                    "the user's newest)."),
        timeout: float = typer.Option(60.0, help="Per-request timeout, seconds."),
        create_calendar: bool = typer.Option(
            True, "--import/--no-import",
            help="With no calendar to use, import the generated entries as the smoke user's "
                 "calendar (default), or skip export and publish (exit 3)."),
    ) -> None:
        """Release smoke: generate, export, publish with flags off, each twice; exit 0 pass,
        1 fail, 3 incomplete (skipped steps)."""
        result = Smoke(base_url, user_id=user_id, token=token, calendar_id=calendar_id,
                       timeout=timeout, create_calendar=create_calendar).run(log_file)
        render(result, Console(width=160))
        raise typer.Exit(result.exit_code)
