"""OpenTelemetry tracing against an OTLP/HTTP receiver on loopback: `postplan serve` with
`OTEL_EXPORTER_OTLP_ENDPOINT` exports request and run spans, and its log lines carry the trace
ids; without it nothing is installed."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postplan.app import create_app
from postplan.core import tracing
from tests.cli.serving import served
from tests.fixtures.apps import live_server, make_settings

BRIEF = {"brand": "Acme Coffee", "channels": ["tiktok"], "startDate": "2027-01-04", "days": 2}


class Receiver:
    """Collects exported spans: name, trace id (hex), attributes."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()

        async def traces(request: Request) -> Response:
            message = ExportTraceServiceRequest()
            message.ParseFromString(await request.body())
            with self.lock:
                for resource in message.resource_spans:
                    for scope in resource.scope_spans:
                        for s in scope.spans:
                            self.spans.append({
                                "name": s.name, "traceId": s.trace_id.hex(),
                                "attrs": {a.key: a.value for a in s.attributes},
                                "service": {a.key: a.value.string_value
                                            for a in resource.resource.attributes}})
            return Response(b"", media_type="application/x-protobuf")

        self.app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


def test_serve_exports_request_and_run_spans_and_logs_carry_trace_ids(tmp_path: Path) -> None:
    receiver = Receiver()
    with live_server(receiver.app) as otlp:  # type: ignore[arg-type]
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "CALENDAR_SERVICE_ENABLED": "true",
               "DEPLOY_ID": "deploy-42"}
        # served() stops the server with SIGTERM at the end: the lifespan flushes the batch.
        with served(tmp_path, **env) as (url, log, _):
            resp = httpx.post(f"{url}/v1/ai/calendar", json=BRIEF, timeout=30)
            assert resp.status_code == 200 and "event: done" in resp.text
    names = {s["name"] for s in receiver.spans}
    assert "POST /v1/ai/calendar" in names, names
    assert "calendar.run" in names, names
    request_span = next(s for s in receiver.spans if s["name"] == "POST /v1/ai/calendar")
    assert request_span["service"]["service.name"] == "postplan"
    assert request_span["service"]["deployment.id"] == "deploy-42"
    run_span = next(s for s in receiver.spans if s["name"] == "calendar.run")
    # The run is part of the request's trace, and the run's log lines say which trace.
    assert run_span["traceId"] == request_span["traceId"]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    finished = [ln for ln in lines if ln.get("event") == "generation.run.finished"]
    assert finished and finished[0]["traceId"] == run_span["traceId"]
    requests = [ln for ln in lines if ln.get("event") == "http.request"
                and ln.get("path") == "/v1/ai/calendar"]
    assert requests and requests[0]["traceId"] == request_span["traceId"]


async def test_without_an_endpoint_nothing_is_installed(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"), migrate=True)
    assert not tracing.tracing_on()
    assert all(m.cls is not tracing.TracingMiddleware for m in app.user_middleware)
    with tracing.span("anything") as current:
        assert not current.get_span_context().is_valid
