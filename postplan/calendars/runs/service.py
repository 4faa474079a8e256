"""Starting a run: the one path `POST /v1/ai/calendar` and `postplan generate` share.

Mode per call: CALENDAR_SERVICE_ENABLED off for the user → the legacy stream (no AI call,
nothing written, no database touched); on → `ai` when LLM_BASE_URL is set, else the offline
`planner`. The brief has been checked by the caller (422 or exit status 2 before anything
starts); once a run has started, problems arrive as events in its stream.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

from postplan.calendars.runs.events import RunEvent
from postplan.calendars.runs.legacy import fixed_events, legacy_run
from postplan.calendars.runs.mapping import RunRef
from postplan.calendars.runs.registry import RunRegistry
from postplan.config import Settings
from postplan.core.db import is_database_busy, is_db_unavailable
from postplan.core.errors import AppError, DatabaseBusy
from postplan.core.flags import Flag, FlagService
from postplan.core.logging import get_logger
from postplan.generation.base import Generator
from postplan.generation.planner import OfflinePlanner
from postplan.generation.providers.openai import OpenAICompatibleGenerator
from postplan.generation.schemas import Brief

log = get_logger(__name__)

#: The registry a run starts in, or how to open it: the CLI opens its database only for a run
#: that writes (the legacy stream touches none).
RegistrySource = RunRegistry | Callable[[], Awaitable[RunRegistry]]


class RunNotSaved(AppError):
    """The database refused the run's first write (not an outage: that streams a dry run)."""

    status_code = 500
    code = "run_not_saved"
    title = "Run not saved"


@dataclass(frozen=True)
class StartedRun:
    """A run that has started: who it is, its stream, and the stream's place to give back."""

    ref: RunRef
    mode: str
    #: `legacy` or `generate`, as the stream's metrics and logs name it.
    kind: str
    #: `run`, every entry, then `timeout`|`error` and `done`.
    events: AsyncGenerator[RunEvent, None]
    #: Gives back the stream's place in `StreamSlots` (idempotent); call it when the stream ends.
    release: Callable[[], None]
    #: The registry executing the run (None for the legacy stream).
    registry: RunRegistry | None = None


def select_mode(flags: FlagService, settings: Settings, user_id: str) -> str:
    """`legacy`, `ai` or `planner`, read per request (flags can change while running)."""
    if not flags.is_enabled(Flag.calendar_service, user_id):
        return "legacy"
    return "ai" if settings.llm_base_url else "planner"


def make_generator(settings: Settings, mode: str) -> Generator:
    """The generator for a non-legacy mode."""
    if mode == "ai" and settings.llm_base_url:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return OpenAICompatibleGenerator(settings.llm_base_url, key, settings.llm_model,
                                         settings.ai_timeout_seconds,
                                         max_concurrency=settings.llm_max_concurrency,
                                         structured=settings.llm_structured_output,
                                         max_attempts=settings.llm_max_attempts)
    return OfflinePlanner()


async def start_run(brief: Brief, user_id: str, *, settings: Settings, flags: FlagService,
                    registry: RegistrySource,
                    dry_run_when_unreachable: bool = True) -> StartedRun:
    """Start `user_id`'s run of `brief` and return its stream.

    A generating run is committed (its row, and the planner's first entry) before this
    returns, and goes on in the registry's background task whoever reads the stream. Refusals
    are raised before anything is written: 429 `too_many_runs` / `too_many_streams`, 404
    `calendar_not_found`, 413 `calendar_too_large`, 503 `database_busy`. With
    `dry_run_when_unreachable`, a database that cannot be reached still gets the calendar
    streamed, as a dry run that saves nothing (docs/contract.md §4)."""
    mode = select_mode(flags, settings, user_id)
    if mode == "legacy":
        ref, events = legacy_run(brief)
        return StartedRun(ref, mode, "legacy", fixed_events(events), _nothing)
    runs = registry if isinstance(registry, RunRegistry) else await registry()
    generator = make_generator(settings, mode)
    model = settings.llm_model if mode == "ai" else None
    # The stream's place is taken before any work starts, so a user at the bound costs nothing.
    slot = runs.slots.take(user_id)
    try:
        try:
            live = await runs.begin(user_id, brief, generator, model=model)
        except Exception as exc:
            if not dry_run_when_unreachable or isinstance(exc, AppError):
                raise
            if is_database_busy(exc):  # busy is not away: a silent dry run would lose the run
                raise DatabaseBusy() from exc
            # The database is away: still stream the calendar, as a dry run (docs/contract.md
            # §4). Only a real connectivity failure counts: a statement the database refuses
            # (bad data, a bug) must fail loudly, not answer "saved" with a run that saved nothing.
            if not is_db_unavailable(exc):
                log.exception("generation.run_not_saved", errorType=type(exc).__name__)
                raise RunNotSaved("the run could not be saved, so none was started; nothing was "
                                  "stored (quote the requestId when reporting it)") from exc
            log.warning("generation.database_unavailable", errorType=type(exc).__name__)
            live = runs.begin_dry_run(user_id, brief, generator)
    except BaseException:
        slot.release()
        raise
    slot.attach_run(live.ref.run_id)
    return StartedRun(live.ref, mode, "generate", runs.tails.from_start(live.ref, live=live),
                      slot.release, runs)


def _nothing() -> None:
    """The legacy stream holds no place."""
