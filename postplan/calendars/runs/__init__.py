"""Generation runs: the calendars domain's second stack, beside entry CRUD.

A run turns a brief into a calendar's entries in a background task, saves each one and streams
it over SSE; any process can resume or tail it from the database.

Why a sub-package of `calendars` (like polar's `benefit/grant/` or dispatch's
`incident/priority/`) and not a domain of its own: runs own no tables. A run creates a
calendar, writes its entries and their revisions and settles its `calendar_runs` row, all
calendars' rows, with calendars' repository, entry cap (`calendars.limits`) and entry shape
(`calendars.schemas.EntryOut`). As a separate domain it could reach those only through
`calendars.service`, or would write calendars' tables behind calendars' back, which is what
publishing is being moved away from.

Imports go one way: `runs` uses the rest of `calendars`; entry CRUD (`service`, `repository`,
`importing`, `endpoints`, ...) never imports `runs`, so the domains that read calendars through
`calendars.service` never load the run machinery.

Modules, bottom to top (each imports only modules listed before it):

* `mapping`: `RunRef` and the pure brief/draft → row mappings (no I/O)
* `events`: the stream's events as plain data
* `limits`: bounds on runs and streams per user, and their 429 problems
* `eventlog`: one run's events fanned out to its streams in this process
* `store`: run and entry persistence (each call its own short session)
* `replacing`: a regeneration's run row and its entries rewritten in place
* `watch`: when nobody listens to a run any more
* `tail`: where a stream reads a run from (this process's log, or one shared database tail)
* `executor`: one generation: drafts → saved entries → published events → settled row
* `registry`: the runs this process executes, the sweeper, the app's lifespan hook
* `legacy`: the fixed stream when CALENDAR_SERVICE_ENABLED is off
* `service`: `start_run`, the one way `POST /v1/ai/calendar` and `postplan generate` start a run
* `regenerate`: `start_regeneration`, new copy for chosen or unedited entries as a run
* `sse`, `schemas`, `endpoints`: HTTP
"""
