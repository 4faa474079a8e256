"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from postplan.core.deps import Engine
from postplan.core.metrics import registry
from postplan.core.migrate import schema_state

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, engine: Engine) -> JSONResponse:
    """Ready when the database answers and its schema is at this build's head revision or past
    it (a newer build migrated it: migrations are expand-then-contract, docs/migrations.md), so a
    rolling deploy's `postplan migrate` never drains the replicas still running the old build."""
    checks: dict[str, Any] = {}
    ready = True
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        state = await schema_state(engine)
        checks["migrations"] = {"current": state.current, "head": state.head,
                                "ahead": state.ahead}
        if not state.ready:
            ready = False
    except Exception as exc:  # any driver error means not ready; the reason goes in the body
        ready = False
        checks["database"] = f"unreachable: {type(exc).__name__}"
    extra = getattr(request.app.state, "readiness_extra", None)
    if callable(extra):
        checks.update(extra())
    status = "ok" if ready else "degraded"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus exposition of every postplan metric."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
