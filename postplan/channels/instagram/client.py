"""Thin typed calls to the Instagram Graph API content-publishing endpoints
(`{INSTAGRAM_API_BASE}/{INSTAGRAM_API_VERSION}/...`). The token travels in the Authorization
header, never in a URL, so it cannot leak into an error or a log line."""

from __future__ import annotations

from typing import Any

import httpx

from postplan.channels.base import OutcomeUnknown, PermanentError
from postplan.channels.config import ChannelConfig
from postplan.channels.instagram.errors import error_for
from postplan.channels.transport import send, timeout_for

__all__ = ["InstagramClient"]


class InstagramClient:
    """One shared instance per process."""

    def __init__(self, http: httpx.AsyncClient, config: ChannelConfig) -> None:
        self.http = http
        self.config = config
        self.version = config.api_version or "v25.0"
        self._timeout = timeout_for(config.timeout, config.connect_timeout)

    def url(self, path: str) -> str:
        return f"{self.config.api_base}/{self.version}/{path.lstrip('/')}"

    async def _call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        step: str,
        params: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        irreversible: bool = False,
        handle: str | None = None,
    ) -> dict[str, Any]:
        response = await send(
            self.http, method, self.url(path), prefix="instagram", step=step,
            irreversible=irreversible, limits=self._timeout, handle=handle,
            headers={"Authorization": f"Bearer {token}"}, params=params, data=form,
        )
        error = error_for(response, irreversible=irreversible, handle=handle)
        if error is not None:
            raise error
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            cls = OutcomeUnknown if irreversible else PermanentError
            raise cls("instagram_bad_response", f"Instagram answered {step} without JSON.",
                      http_status=response.status_code, handle=handle)
        return body

    async def create_container(self, token: str, account_id: str, params: dict[str, Any]) -> str:
        """`POST /{ig-user-id}/media`: a container, invisible until published (safe to repeat)."""
        body = await self._call("POST", f"{account_id}/media", token, step="create_container",
                                form=params)
        if not body.get("id"):
            raise PermanentError("instagram_bad_response", "Instagram returned no container id.")
        return str(body["id"])

    async def container_status(self, token: str, container_id: str) -> dict[str, Any]:
        """`GET /{container-id}?fields=status_code,status`."""
        return await self._call("GET", container_id, token, step="container_status",
                                params={"fields": "id,status_code,status"},
                                handle=container_id)

    async def media_publish(self, token: str, account_id: str, creation_id: str) -> str:
        """`POST /{ig-user-id}/media_publish`: THE irreversible call; returns the media id."""
        body = await self._call("POST", f"{account_id}/media_publish", token,
                                step="media_publish", form={"creation_id": creation_id},
                                irreversible=True, handle=creation_id)
        if not body.get("id"):
            raise OutcomeUnknown("instagram_bad_response",
                                 "Instagram's publish answered without a media id.",
                                 handle=creation_id)
        return str(body["id"])

    async def comment(self, token: str, media_id: str, message: str) -> str:
        """`POST /{ig-media-id}/comments`: a comment on a published media; its id."""
        body = await self._call("POST", f"{media_id}/comments", token, step="comment",
                                form={"message": message})
        return str(body.get("id") or "")

    async def publishing_limit(self, token: str, account_id: str) -> tuple[int, int]:
        """(quota_usage, quota_total) from `content_publishing_limit`."""
        body = await self._call("GET", f"{account_id}/content_publishing_limit", token,
                                step="publishing_limit",
                                params={"fields": "quota_usage,config"})
        rows = body.get("data") or [{}]
        row = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}
        config = row.get("config") if isinstance(row.get("config"), dict) else {}
        return int(row.get("quota_usage") or 0), int((config or {}).get("quota_total") or 50)

    async def media(self, token: str, media_id: str, fields: str) -> dict[str, Any]:
        """`GET /{ig-media-id}?fields=...` (permalink and friends)."""
        return await self._call("GET", media_id, token, step="media_read",
                                params={"fields": fields})

    async def me(self, token: str) -> dict[str, Any]:
        """`GET /me?fields=user_id,username`."""
        return await self._call("GET", "me", token, step="me",
                                params={"fields": "user_id,username"})
