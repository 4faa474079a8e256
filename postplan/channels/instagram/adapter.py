"""Instagram Graph API content-publishing adapter: containers for image, reel, carousel and
story, container status polling, `media_publish`, and the publishing-limit check.

Containers are invisible until published and expire after 24 h, so `prepare` may be repeated.
`media_publish` is the one irreversible call; before it the container's status is read again so a
container that is already PUBLISHED is never published twice.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx

from postplan.channels.base import (
    AdapterResult,
    Credentials,
    Finding,
    HandleCallback,
    PermanentError,
    PublishRequest,
    RetryLater,
)
from postplan.channels.config import ChannelConfig
from postplan.channels.instagram.client import InstagramClient
from postplan.channels.instagram.errors import QUOTA, status_subcode_error
from postplan.channels.instagram.payloads import carousel_parent, child_params, single_params
from postplan.channels.instagram.rules import validate_request
from postplan.core.logging import get_logger
from postplan.core.vocab import Channel, EntryFormat

__all__ = ["InstagramAdapter"]

log = get_logger(__name__)


def _raise_if_dead(code: str, status: dict[str, Any], container: str) -> None:
    """A container in ERROR (its `status` says why) or EXPIRED can never be published."""
    if code == "ERROR":
        raise status_subcode_error(str(status.get("status") or ""), handle=container)
    if code == "EXPIRED":
        raise RetryLater("instagram_container_expired",
                         "The media container expired; it will be created again.",
                         retry_after=1.0, platform_code="EXPIRED")


class InstagramAdapter:
    """One instance serves every Instagram account; `http` is the process's shared client."""

    channel = Channel.instagram

    def __init__(self, http: httpx.AsyncClient, config: ChannelConfig) -> None:
        self.config = config
        self.client = InstagramClient(http, config)

    # -- offline -------------------------------------------------------------------------------

    def build_payload(self, req: PublishRequest) -> dict[str, Any]:
        """Every request in order, with `{placeholders}` for ids only Instagram can give."""
        c = self.client
        acct = req.account_id
        steps: list[dict[str, Any]] = [
            {"method": "GET", "url": c.url(f"{acct}/content_publishing_limit"),
             "params": {"fields": "quota_usage,config"}},
        ]
        if req.format is EntryFormat.carousel:
            ids = []
            for i, media in enumerate(req.media):
                steps.append({"method": "POST", "url": c.url(f"{acct}/media"),
                              "body": child_params(media)})
                ids.append(f"{{child_{i}}}")
            steps.append({"method": "POST", "url": c.url(f"{acct}/media"),
                          "body": carousel_parent(req, ids)})
        else:
            steps.append({"method": "POST", "url": c.url(f"{acct}/media"),
                          "body": single_params(req)})
        steps.append({"method": "GET", "url": c.url("{container_id}"),
                      "params": {"fields": "id,status_code,status"}})
        steps.append({"method": "POST", "url": c.url(f"{acct}/media_publish"),
                      "body": {"creation_id": "{container_id}"}})
        return {"channel": self.channel.value, "format": req.format.value, "requests": steps}

    def validate(
        self, req: PublishRequest, *, now: datetime, posts_in_last_24h: int
    ) -> list[Finding]:
        """Offline findings; see `rules.validate_request`."""
        return validate_request(req, now=now, posts_in_last_24h=posts_in_last_24h)

    # -- online --------------------------------------------------------------------------------

    async def preflight(self, creds: Credentials, req: PublishRequest) -> None:
        """`content_publishing_limit`: refuse before creating containers when the quota is used."""
        usage, total = await self.client.publishing_limit(creds.access_token, creds.account_id)
        if usage >= total:
            raise PermanentError(
                "instagram_daily_quota",
                f"This Instagram account published {usage} of {total} allowed posts in the last "
                "24 hours; try again later.",
                platform_code=f"{QUOTA[0]}/{QUOTA[1]}",
            )

    async def prepare(self, creds: Credentials, req: PublishRequest) -> str | None:
        """Create the container(s) and wait until the one to publish is FINISHED."""
        token, acct = creds.access_token, creds.account_id
        if req.format is EntryFormat.carousel:
            # Children are independent and invisible: create and wait for them concurrently
            # (gather keeps their order, which is the carousel's order).
            children = list(await asyncio.gather(*(
                self.client.create_container(token, acct, child_params(m)) for m in req.media
            )))
            await asyncio.gather(*(self._wait_finished(token, child) for child in children))
            container = await self.client.create_container(
                token, acct, carousel_parent(req, children))
        else:
            container = await self.client.create_container(token, acct, single_params(req))
        await self._wait_finished(token, container)
        log.info("channels.instagram.prepared", container_id=container, format=req.format.value)
        return container

    async def _wait_finished(self, token: str, container: str) -> None:
        interval = self.config.container_poll_interval
        deadline = time.monotonic() + self.config.container_poll_timeout
        while True:
            data = await self.client.container_status(token, container)
            code = str(data.get("status_code") or "")
            if code in ("FINISHED", "PUBLISHED"):
                return
            _raise_if_dead(code, data, container)
            if time.monotonic() + interval > deadline:
                raise RetryLater(
                    "instagram_container_not_ready",
                    "Instagram is still processing the media; checking again later.",
                    retry_after=interval, handle=container,
                )
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, self.config.container_poll_max_interval)

    async def publish(
        self,
        creds: Credentials,
        req: PublishRequest,
        handle: str | None,
        *,
        on_handle: HandleCallback | None = None,
    ) -> AdapterResult:
        """`media_publish` once for a FINISHED container; `published` with the media id."""
        token, acct = creds.access_token, creds.account_id
        if not handle:
            prepared = await self.prepare(creds, req)
            if prepared is None:
                raise PermanentError("instagram_no_container", "No media container was created.")
            handle = prepared
            if on_handle is not None:
                await on_handle(handle)
        status = await self.client.container_status(token, handle)
        code = str(status.get("status_code") or "")
        if code == "PUBLISHED":
            # An earlier attempt went through; publishing again would be a second post.
            return AdapterResult(state="published", handle=handle,
                                 detail={"container_id": handle, "already_published": True})
        _raise_if_dead(code, status, handle)
        if code != "FINISHED":
            raise RetryLater("instagram_media_not_ready",
                             "The media is not ready for publishing yet.",
                             retry_after=self.config.container_poll_interval, handle=handle)
        media_id = await self.client.media_publish(token, acct, handle)
        log.info("channels.instagram.published", container_id=handle, media_id=media_id)
        return AdapterResult(state="published", handle=handle, platform_post_id=media_id,
                             detail={"container_id": handle, "media_id": media_id})

    async def first_comment(self, creds: Credentials, req: PublishRequest,
                            media_id: str) -> str | None:
        """The entry's first comment on the published media (its own step, after the post):
        the comment id, or None when there is none to post. Never touches the post itself."""
        message = str(req.options.get("first_comment") or "").strip()
        if not message:
            return None
        return await self.client.comment(creds.access_token, media_id, message)

    async def poll(self, creds: Credentials, req: PublishRequest, handle: str) -> AdapterResult:
        """One container status read: PUBLISHED is published; ERROR raises."""
        data = await self.client.container_status(creds.access_token, handle)
        code = str(data.get("status_code") or "")
        detail = {"container_id": handle, "status_code": code}
        if code == "PUBLISHED":
            return AdapterResult(state="published", handle=handle, detail=detail)
        if code == "ERROR":
            raise status_subcode_error(str(data.get("status") or ""), handle=handle)
        if code == "EXPIRED":
            raise PermanentError("instagram_container_expired",
                                 "The media container expired before it was published.",
                                 platform_code="EXPIRED", handle=handle)
        return AdapterResult(state="processing", handle=handle, detail=detail)

    async def reconcile(
        self, creds: Credentials, req: PublishRequest, handle: str | None
    ) -> AdapterResult | None:
        """Ask the container: PUBLISHED means live; FINISHED or IN_PROGRESS means the publish did
        not happen (publish the same container); EXPIRED or unknown means start over. The media
        id is not guessed from the account's media list (it could bind another post)."""
        if not handle:
            # Nothing can be published without a container, so nothing was.
            return AdapterResult(state="not_published", handle=None,
                                 detail={"reason": "no_container"})
        try:
            data = await self.client.container_status(creds.access_token, handle)
        except PermanentError as exc:
            if exc.platform_code and exc.platform_code.startswith("100"):
                return AdapterResult(state="not_published", handle=None,
                                     detail={"container_id": handle, "reason": "unknown"})
            raise
        code = str(data.get("status_code") or "")
        detail: dict[str, Any] = {"container_id": handle, "status_code": code,
                                  "reconciled": True}
        if code == "PUBLISHED":
            return AdapterResult(state="published", handle=handle, detail=detail)
        if code in ("FINISHED", "IN_PROGRESS"):
            return AdapterResult(state="not_published", handle=handle, detail=detail)
        if code == "ERROR":
            raise status_subcode_error(str(data.get("status") or ""), handle=handle)
        return AdapterResult(state="not_published", handle=None, detail=detail)
