"""Optional OpenTelemetry tracing: spans for requests, generation runs and publish jobs.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Off, nothing is installed: no middleware, and
`span()` is the API's no-op tracer (a few hundred nanoseconds, `bench/bench_tracing.py`). On, spans
go to the OTLP/HTTP endpoint in batches from a background thread, and every log line written
inside a span carries `traceId` and `spanId`, so a log search and a trace view meet.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TracingMiddleware", "configure_tracing", "shutdown_tracing", "span", "tracing_on"]

_tracer = trace.get_tracer("postplan")
_provider: Any = None


def tracing_on() -> bool:
    """Whether this process exports spans."""
    return _provider is not None


def configure_tracing(endpoint: str | None, *, service_name: str = "postplan",
                      version: str = "", deploy_id: str | None = None) -> bool:
    """Install the SDK's tracer provider exporting to `endpoint` (OTLP/HTTP); no-op without one.

    Imports the SDK only when asked: a process with tracing off never loads it.
    """
    global _provider
    if not endpoint or _provider is not None:
        return _provider is not None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attrs: dict[str, str] = {"service.name": service_name, "service.version": version}
    if deploy_id:
        attrs["deployment.id"] = deploy_id
    provider = TracerProvider(resource=Resource.create(attrs))
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"  # the OTLP/HTTP convention for a base endpoint
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url),
                                                   schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def shutdown_tracing() -> None:
    """Flush and stop the exporter (at process exit, so the last spans are not lost)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def _bind_ids(current: trace.Span) -> list[str]:
    ctx = current.get_span_context()
    if not ctx.is_valid:
        return []
    structlog.contextvars.bind_contextvars(traceId=format(ctx.trace_id, "032x"),
                                           spanId=format(ctx.span_id, "016x"))
    return ["traceId", "spanId"]


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span around a unit of work; log lines inside it carry its ids (tracing on only)."""
    if _provider is None:
        yield trace.INVALID_SPAN
        return
    clean = {k: v for k, v in attributes.items() if v is not None}
    with trace.get_tracer("postplan").start_as_current_span(name, attributes=clean) as current:
        previous = structlog.contextvars.get_contextvars()
        bound = _bind_ids(current)
        try:
            yield current
        finally:
            if bound:
                structlog.contextvars.unbind_contextvars(*bound)
                # An outer span's ids come back for the lines after this one.
                restore = {k: previous[k] for k in bound if k in previous}
                if restore:
                    structlog.contextvars.bind_contextvars(**restore)


class TracingMiddleware:
    """One server span per HTTP request (method, route, status); installed only when tracing
    is on. Outermost, so the request log line carries the trace id too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        with span(f"{method} {scope.get('path', '')}", **{
                "http.request.method": method, "url.path": scope.get("path", "")}) as current:

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    current.set_attribute("http.response.status_code", message["status"])
                    if message["status"] >= 500:
                        current.set_status(trace.StatusCode.ERROR)
                await send(message)

            await self.app(scope, receive, send_status)
            route = scope.get("route")
            path_format = getattr(route, "path_format", None)
            if path_format:
                # The route template, not the path: span names must not carry ids.
                current.update_name(f"{method} {path_format}")
                current.set_attribute("http.route", path_format)
