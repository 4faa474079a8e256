"""A fake TikTok + Instagram platform, served by real uvicorn on 127.0.0.1.

One FastAPI app answers TikTok's `/v2/...` paths (Content Posting API, Login Kit token endpoint,
chunk uploads on `/upload/video/`) and Instagram's `/{vNN.0}/...` Graph paths (containers,
container status, media_publish, content_publishing_limit, /me) plus its OAuth endpoints
(`/oauth/access_token`, `/access_token`, `/refresh_access_token`). It follows
`docs/research.md` (Channel APIs): envelopes, async processing, per-token rate limits, daily
caps, token expiry and refresh rotation.

The control object (`FakeChannels`) is shared with the test thread: accounts and tokens, a virtual
clock, scripted faults per path (status, rate limit, hang, drop the connection before or after the
side effect, 5xx after the side effect) and, above all, a ledger of side effects - every post the
platform accepted - so tests can assert "posts == intents published" and find double posts.

    with start_fake_channels() as fake:
        acct = fake.control.add_account("tiktok")
        ... adapters use api_base=fake.url, creds token=acct.token ...
        assert fake.control.duplicates() == {}

The public names are re-exported by `tests/fakes/channels_server.py`. Modules: `state`
(FakeChannels and its records), `faults` (fault middleware), `responses` (envelopes), `tiktok`
and `instagram` (routes), `app` (build_app), `server` (uvicorn / in-memory runners, fixtures).
"""
