"""One place that turns httpx transport failures into typed channel errors.

The rule that prevents double posts lives here: a failure after the request may have reached the
platform is OutcomeUnknown when the call was irreversible, and RetryLater otherwise. A connection
that was never made is always safe to retry. Messages never include URLs (Instagram's OAuth calls
carry the token in the query string) or exception text from the transport.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from postplan.channels.backoff import backoff_delay
from postplan.channels.base import OutcomeUnknown, RetryLater
from postplan.core.logging import get_logger

__all__ = ["send", "timeout_for"]

log = get_logger(__name__)

# httpx logs every request URL at INFO; Instagram's OAuth endpoints carry the token in the query
# string, so its request log must stay below the level the service logs at.
logging.getLogger("httpx").setLevel(max(logging.getLogger("httpx").level, logging.WARNING))

_NEVER_SENT = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol
)


def timeout_for(total: float, connect: float) -> httpx.Timeout:
    """An explicit timeout: `connect` to open the socket, `total` for each read/write."""
    return httpx.Timeout(total, connect=connect, pool=connect)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    prefix: str,
    step: str,
    irreversible: bool,
    limits: httpx.Timeout,
    handle: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; map a transport failure to RetryLater or OutcomeUnknown.

    `limits` is the explicit httpx timeout; `prefix` is the channel name used in error codes;
    `step` names the call for messages and logs.
    """
    try:
        return await http.request(method, url, timeout=limits, **kwargs)
    except _NEVER_SENT as exc:
        log.warning("channels.transport.unreachable", step=step, error=type(exc).__name__)
        raise RetryLater(
            f"{prefix}_unreachable",
            f"could not connect to {prefix} for {step}; nothing was sent",
            retry_after=backoff_delay(1),
            handle=handle,
        ) from None
    except httpx.TransportError as exc:
        log.warning("channels.transport.failed", step=step, error=type(exc).__name__,
                    irreversible=irreversible)
        if irreversible:
            raise OutcomeUnknown(
                f"{prefix}_outcome_unknown",
                f"the connection failed during {step} ({type(exc).__name__}); the post may be "
                "live - reconcile before any retry",
                handle=handle,
            ) from None
        raise RetryLater(
            f"{prefix}_transport_error",
            f"the connection failed during {step} ({type(exc).__name__}); safe to retry",
            retry_after=backoff_delay(1),
            handle=handle,
        ) from None
