"""Generation runs: the calendars domain's second stack, beside entry CRUD.

A run turns a brief into a calendar's entries in a background task, saves each one and streams
it over SSE; any process can resume or tail it from the database. It is a sub-package of
`calendars` (like polar's `benefit/grant/` or dispatch's `incident/priority/`), not a domain of
its own, because it owns no tables: it creates calendars, writes their entries and revisions
and settles `calendar_runs`, all calendars' rows, through calendars' own repository, limits and
schemas. Imports go one way: `runs` uses the rest of `calendars`; entry CRUD (`service`,
`repository`, `importing`, ...) never imports `runs`, so other domains reading calendars through
`calendars.service` never load the run machinery.

Modules, bottom to top (each imports only those above it):

* `mapping`: `RunRef` and the pure brief/draft → row mappings (no I/O)
* `events`: the stream's events as plain data
* `limits`: bounds on runs and streams per user, and their 429 problems
* `eventlog`: one run's events fanned out to its streams in this process
* `store`: run and entry persistence (its own short sessions)
* `watch`: when nobody listens to a run any more
* `tail`: where a stream reads a run from (this process's log, or one shared database tail)
* `executor`: runs one generation: drafts → saved entries → published events
* `registry`: the runs this process executes, the sweeper, the app's lifespan hook
* `legacy`: the fixed stream when CALENDAR_SERVICE_ENABLED is off
* `service`: `start_run`, the one way the API and `postplan generate` start a run
* `sse`, `schemas`, `endpoints`: HTTP
"""
