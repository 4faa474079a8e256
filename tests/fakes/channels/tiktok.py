"""TikTok routes of the fake: Content Posting API, chunk uploads, Login Kit OAuth
and user info.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.channels.responses import _bearer, _json_body, _tt, _utf16
from tests.fakes.channels.state import (
    DAY,
    FAIL_MARK,
    PRIVACY_PRIVATE,
    PRIVACY_PUBLIC,
    FakeChannels,
    FakePost,
    FakeToken,
    _Publish,
)


def register_tiktok(app: FastAPI, c: FakeChannels) -> None:
    """TikTok (`/v2/...`, `/upload/video/`) routes over the shared state `c`."""

    def tt_auth(request: Request, *scopes: str) -> tuple[FakeToken | None, JSONResponse | None]:
        info, _ = c.token_info(_bearer(request), "tiktok")
        if info is None:
            return None, _tt(code="access_token_invalid", status=401,
                             message="The access token is invalid or not found in the request.")
        if scopes and not any(s in info.scopes for s in scopes):
            return None, _tt(code="scope_not_authorized", status=401,
                             message="The user did not authorize the scope required.")
        return info, None

    def tt_rate(info: FakeToken, bucket: str) -> JSONResponse | None:
        if c.take(info.token, bucket, c.config.tiktok_limits[bucket]):
            return None
        return _tt(code="rate_limit_exceeded", status=429,
                   message="The API rate limit was exceeded. Please try again later.")

    def direct_posts_24h(account_id: str) -> int:
        since = c.now() - DAY
        return sum(1 for p in c.account_posts.get(("tiktok", account_id), ())
                   if p.kind in ("video", "photo") and p.created_at > since and not p.failed)

    def pending_shares_24h(account_id: str) -> int:
        since = c.now() - DAY
        return sum(1 for p in c.account_posts.get(("tiktok", account_id), ())
                   if p.kind == "inbox" and p.created_at > since and not p.failed)

    @app.post("/v2/post/publish/creator_info/query/")
    async def creator_info(request: Request) -> Response:
        with c.lock:
            info, err = tt_auth(request, "video.publish")
            if info is None:
                return err  # type: ignore[return-value]
            if (limited := tt_rate(info, "creator_info")) is not None:
                return limited
            acct = c.accounts[("tiktok", info.account_id)]
            # Intentional HTTP 200 errors, as TikTok documents them.
            if acct.banned:
                return _tt(code="spam_risk_user_banned_from_posting",
                           message="The user is banned from posting.")
            if direct_posts_24h(acct.account_id) >= c.config.tiktok_daily_cap:
                return _tt(code="spam_risk_too_many_posts",
                           message="The creator has reached the daily post cap.")
            return _tt({
                "creator_avatar_url": f"https://p16.example/{acct.account_id}.jpeg",
                "creator_username": acct.username,
                "creator_nickname": acct.username.title(),
                "privacy_level_options": PRIVACY_PRIVATE if acct.private else PRIVACY_PUBLIC,
                "comment_disabled": acct.comment_disabled,
                "duet_disabled": acct.private,
                "stitch_disabled": acct.private,
                "max_video_post_duration_sec": acct.max_video_post_duration_sec,
            })

    def check_chunks(src: dict[str, Any]) -> str | None:
        cfg = c.config
        try:
            size, chunk, count = (int(src["video_size"]), int(src["chunk_size"]),
                                  int(src["total_chunk_count"]))
        except (KeyError, TypeError, ValueError):
            return "source_info needs video_size, chunk_size and total_chunk_count"
        if size <= 0 or chunk <= 0 or count <= 0:
            return "sizes must be positive"
        if size < cfg.min_chunk and (chunk != size or count != 1):
            return "a video under the minimum chunk size must be uploaded as one chunk"
        if size > cfg.max_chunk and count < 2:
            return "a video over the maximum chunk size must be uploaded in chunks"
        if count != size // chunk:
            return "total_chunk_count must be floor(video_size / chunk_size)"
        if count > 1 and not cfg.min_chunk <= chunk <= cfg.max_chunk:
            return "chunk_size is out of bounds"
        if size - (count - 1) * chunk > cfg.max_final_chunk or count > 1000:
            return "the final chunk is too large"
        return None

    async def init(request: Request, kind: str) -> Response:
        body = await _json_body(request)
        with c.lock:
            photo = kind == "photo"
            mode = str(body.get("post_mode") or "DIRECT_POST") if photo else (
                "MEDIA_UPLOAD" if kind == "inbox" else "DIRECT_POST")
            inbox = mode == "MEDIA_UPLOAD"
            info, err = tt_auth(request, "video.upload" if inbox else "video.publish")
            if info is None:
                return err  # type: ignore[return-value]
            if (limited := tt_rate(info, "init")) is not None:
                return limited
            acct = c.accounts[("tiktok", info.account_id)]
            if acct.banned:
                return _tt(code="spam_risk_user_banned_from_posting", status=403,
                           message="The user is banned from posting.")
            src = body.get("source_info") if isinstance(body.get("source_info"), dict) else {}
            post_info = body.get("post_info") if isinstance(body.get("post_info"), dict) else {}
            assert isinstance(src, dict) and isinstance(post_info, dict)
            source = str(src.get("source") or "")
            urls: list[str] = []
            if photo:
                images = src.get("photo_images")
                if (body.get("media_type") != "PHOTO" or mode not in ("DIRECT_POST",
                        "MEDIA_UPLOAD") or source != "PULL_FROM_URL"):
                    return _tt(code="invalid_param", status=400,
                               message="media_type, post_mode or source is invalid.")
                if not isinstance(images, list) or not 1 <= len(images) <= 35:
                    return _tt(code="invalid_param", status=400,
                               message="photo_images must hold 1 to 35 URLs.")
                cover = src.get("photo_cover_index")
                if not isinstance(cover, int) or not 0 <= cover < len(images):
                    return _tt(code="invalid_param", status=400,
                               message="photo_cover_index is out of range.")
                if (_utf16(str(post_info.get("title") or "")) > 90
                        or _utf16(str(post_info.get("description") or "")) > 4000):
                    return _tt(code="invalid_param", status=400,
                               message="title or description is too long.")
                urls = [str(u) for u in images]
            elif source == "PULL_FROM_URL":
                urls = [str(src.get("video_url") or "")]
            elif source == "FILE_UPLOAD":
                problem = check_chunks(src)
                if problem:
                    return _tt(code="invalid_param", status=400, message=problem)
            else:
                return _tt(code="invalid_param", status=400, message="source is invalid.")
            caption = str(post_info.get("title") or post_info.get("description") or "")
            if not photo and _utf16(caption) > 2200:
                return _tt(code="invalid_param", status=400, message="title is too long.")
            privacy = post_info.get("privacy_level")
            if not inbox:
                options = PRIVACY_PRIVATE if acct.private else PRIVACY_PUBLIC
                if privacy not in options:
                    return _tt(code="privacy_level_option_mismatch", status=403,
                               message="privacy_level is not among the creator's options.")
                if not c.config.tiktok_audited and (
                    not acct.private or privacy != "SELF_ONLY"
                ):
                    return _tt(code="unaudited_client_can_only_post_to_private_accounts",
                               status=403, message="Unaudited clients can only post to "
                               "private accounts.")
                if direct_posts_24h(acct.account_id) >= c.config.tiktok_daily_cap:
                    return _tt(code="spam_risk_too_many_posts", status=403,
                               message="The creator has reached the daily post cap.")
            elif pending_shares_24h(acct.account_id) >= c.config.tiktok_pending_share_cap:
                return _tt(code="spam_risk_too_many_pending_share", status=403,
                           message="Too many pending shares.")
            prefixes = c.config.verified_prefixes
            for url in urls:
                if not url.startswith(("http://", "https://")) or (
                    prefixes is not None and not any(url.startswith(p) for p in prefixes)
                ):
                    return _tt(code="url_ownership_unverified", status=403,
                               message="The URL's domain or prefix is not verified.")
            n = next(c.ids)
            stem = ("p" if photo else "v") + ("_inbox" if inbox else "_pub")
            publish_id = (f"{stem}_file~v2-1.{n}" if source == "FILE_UPLOAD"
                          else f"{stem}_url~v2.{n}")
            fail = FAIL_MARK.search(" ".join([caption, *urls]))
            pub = _Publish(publish_id, acct.account_id,
                           "inbox" if inbox else ("photo" if photo else "video"),
                           caption or (urls[0] if urls else ""), privacy, source,
                           fail.group(1) if fail else None)
            c.publishes[publish_id] = pub
            data: dict[str, Any] = {"publish_id": publish_id}
            if source == "FILE_UPLOAD":
                pub.video_size = int(src["video_size"])
                pub.chunk_size = int(src["chunk_size"])
                pub.chunk_count = int(src["total_chunk_count"])
                pub.upload_id = str(n)
                pub.upload_token = secrets.token_urlsafe(12)
                pub.upload_expires = c.now() + c.config.upload_ttl
                base = str(request.base_url).rstrip("/")
                data["upload_url"] = (f"{base}/upload/video/?upload_id={pub.upload_id}"
                                      f"&upload_token={pub.upload_token}")
            else:
                accept(pub)  # TikTok starts pulling at once: the post is under way
            return _tt(data)

    def accept(pub: _Publish) -> None:
        pub.post = FakePost("tiktok", pub.account_id, pub.caption, pub.kind, pub.publish_id,
                            c.now(), post_id=str(7300000000000000000 + next(c.ids)))
        c.record_post(pub.post)

    @app.post("/v2/post/publish/video/init/")
    async def video_init(request: Request) -> Response:
        return await init(request, "video")

    @app.post("/v2/post/publish/inbox/video/init/")
    async def inbox_init(request: Request) -> Response:
        return await init(request, "inbox")

    @app.post("/v2/post/publish/content/init/")
    async def content_init(request: Request) -> Response:
        return await init(request, "photo")

    @app.put("/upload/video/")
    async def upload(request: Request) -> Response:
        content = await request.body()
        with c.lock:
            q = request.query_params
            pub = next((p for p in c.publishes.values() if p.upload_id
                        and p.upload_id == q.get("upload_id")), None)
            if pub is None or pub.upload_token != q.get("upload_token"):
                return Response(status_code=404)
            if c.now() > pub.upload_expires:
                return Response(status_code=403)
            match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)",
                                 request.headers.get("content-range", "").strip())
            if not match or int(match.group(3)) != pub.video_size:
                return Response(status_code=400)
            first, last = int(match.group(1)), int(match.group(2))
            progress = ({"Content-Range": f"bytes 0-{pub.received - 1}/{pub.video_size}"}
                        if pub.received else {})
            if first != pub.received:
                return Response(status_code=416, headers=progress)
            index = first // pub.chunk_size
            final = index == pub.chunk_count - 1
            expected = pub.video_size - first if final else pub.chunk_size
            if last - first + 1 != len(content) or len(content) != expected:
                return Response(status_code=400)
            pub.received = last + 1
            pub.digest.update(content)
            headers = {"Content-Range": f"bytes 0-{last}/{pub.video_size}"}
            if pub.received >= pub.video_size:
                accept(pub)  # the final chunk starts posting
                return Response(status_code=201, headers=headers)
            return Response(status_code=206, headers=headers)

    @app.post("/v2/post/publish/status/fetch/")
    async def status_fetch(request: Request) -> Response:
        body = await _json_body(request)
        with c.lock:
            info, err = tt_auth(request, "video.publish", "video.upload")
            if info is None:
                return err  # type: ignore[return-value]
            if (limited := tt_rate(info, "status")) is not None:
                return limited
            pub = c.publishes.get(str(body.get("publish_id") or ""))
            if pub is None:
                return _tt(code="invalid_publish_id", status=400,
                           message="The publish_id does not exist.")
            if pub.account_id != info.account_id:
                return _tt(code="token_not_authorized_for_specified_publish_id", status=400,
                           message="The token cannot see this publish_id.")
            if pub.source == "FILE_UPLOAD" and pub.received < pub.video_size:
                return _tt({"status": "PROCESSING_UPLOAD", "uploaded_bytes": pub.received})
            pub.polls += 1
            if pub.cancelled:
                return _tt({"status": "FAILED", "fail_reason": "publish_cancelled"})
            if pub.polls <= c.config.tiktok_processing_polls:
                if pub.source == "FILE_UPLOAD":
                    return _tt({"status": "PROCESSING_UPLOAD", "uploaded_bytes": pub.received})
                return _tt({"status": "PROCESSING_DOWNLOAD", "downloaded_bytes": 0})
            if pub.fail_reason:
                if pub.post is not None:
                    pub.post.failed = True
                return _tt({"status": "FAILED", "fail_reason": pub.fail_reason})
            if pub.kind == "inbox":
                return _tt({"status": "SEND_TO_USER_INBOX"})
            public = pub.privacy == "PUBLIC_TO_EVERYONE" and pub.post is not None
            ids = [int(pub.post.post_id or 0)] if public and pub.post else []
            return _tt({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": ids})

    @app.post("/v2/post/publish/cancel/")
    async def cancel(request: Request) -> Response:
        body = await _json_body(request)
        with c.lock:
            info, err = tt_auth(request, "video.publish", "video.upload")
            if info is None:
                return err  # type: ignore[return-value]
            pub = c.publishes.get(str(body.get("publish_id") or ""))
            if pub is None:
                return _tt(code="invalid_publish_id", status=400, message="Unknown publish_id.")
            if pub.source != "PULL_FROM_URL" or pub.polls > c.config.tiktok_processing_polls:
                return _tt(code="publish_not_cancellable", status=400,
                           message="The publish is already final.")
            pub.cancelled = True
            if pub.post is not None:
                pub.post.failed = True
            return _tt()

    def tt_oauth_error(error: str, description: str) -> JSONResponse:
        # Reported in the wild with HTTP 200: callers must look for the `error` key.
        return JSONResponse({"error": error, "error_description": description,
                             "log_id": secrets.token_hex(8)})

    def tt_issue(account_id: str, scopes: list[str]) -> dict[str, Any]:
        now = c.now()
        access = f"act.{secrets.token_urlsafe(24)}"
        refresh = f"rft.{secrets.token_urlsafe(24)}"
        c.tokens[access] = FakeToken(access, "tiktok", account_id, now,
                                     now + c.config.access_ttl, scopes)
        c.tokens[refresh] = FakeToken(refresh, "tiktok", account_id, now,
                                      now + c.config.refresh_ttl, scopes, kind="refresh")
        return {"access_token": access, "expires_in": c.config.access_ttl,
                "open_id": account_id, "refresh_expires_in": c.config.refresh_ttl,
                "refresh_token": refresh, "scope": ",".join(scopes), "token_type": "Bearer"}

    @app.post("/v2/oauth/token/")
    async def tt_token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with c.lock:
            if (form.get("client_key") != c.config.client_key
                    or form.get("client_secret") != c.config.client_secret):
                return tt_oauth_error("invalid_client", "Client key or secret is incorrect.")
            grant = form.get("grant_type")
            if grant == "authorization_code":
                entry = c.codes.pop(form.get("code", ""), None)
                if entry is None or entry[0] != "tiktok" or entry[3] < c.now():
                    return tt_oauth_error("invalid_grant", "Authorization code is expired.")
                if not form.get("redirect_uri"):
                    return tt_oauth_error("invalid_request", "redirect_uri is required.")
                scopes = entry[2] or ["user.info.basic", "video.publish", "video.upload"]
                return JSONResponse(tt_issue(entry[1], scopes))
            if grant == "refresh_token":
                old = c.tokens.get(form.get("refresh_token", ""))
                if (old is None or old.kind != "refresh" or old.revoked
                        or old.expires_at <= c.now()):
                    return tt_oauth_error("invalid_grant", "Refresh token is invalid or expired.")
                old.revoked = True  # rotation: the old refresh token stops working
                return JSONResponse(tt_issue(old.account_id, old.scopes))
            return tt_oauth_error("unsupported_grant_type", "Unsupported grant type.")

    @app.post("/v2/oauth/revoke/")
    async def tt_revoke(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with c.lock:
            token = c.tokens.get(form.get("token", ""))
            if token is not None:
                token.revoked = True
        return Response(status_code=200)

    @app.get("/v2/user/info/")
    async def tt_user(request: Request) -> Response:
        with c.lock:
            info, err = tt_auth(request, "user.info.basic")
            if info is None:
                return err  # type: ignore[return-value]
            acct = c.accounts[("tiktok", info.account_id)]
            return _tt({"user": {"open_id": acct.account_id, "display_name": acct.username}})
