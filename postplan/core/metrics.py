"""Every Prometheus metric postplan exports (docs/contract.md §6), declared in one place.

Label values are low-cardinality words (channel, outcome), never ids. Label sets are created at
zero on import so a first failure is visible as a change, not as a new series.
"""

from __future__ import annotations

import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Info

from postplan import __version__

SSE_OUTCOMES = ("completed", "partial", "error", "timeout", "client_closed")
PUBLISH_OUTCOMES = ("published", "failed", "needs_reauth", "unknown", "dry_run", "dry_run_failed",
                    "queued",
                    "retry")
CHANNELS = ("tiktok", "instagram")

registry: CollectorRegistry = REGISTRY

BUILD_INFO = Info("postplan_build",
                  "Build information: version, and DEPLOY_ID once the app starts.")
BUILD_INFO.info({"version": __version__, "deploy_id": ""})


def set_build_info(deploy_id: str | None) -> None:
    """Label the build info with `DEPLOY_ID`, so dashboards and alerts can tell deploys apart
    (a change of `deploy_id` marks a deploy even when the version stays the same)."""
    BUILD_INFO.info({"version": __version__, "deploy_id": deploy_id or ""})
PROCESS_START = Gauge("postplan_process_start_time_seconds",
                      "Unix time this process started.")
PROCESS_START.set(time.time())

SSE_STREAMS = Counter("postplan_sse_streams_total",
                      "Generation streams finished, by outcome.", ["outcome"])
SSE_OPEN = Gauge("postplan_sse_open_streams", "Generation and replay streams open now.")
GENERATION_ENTRIES = Counter("postplan_generation_entries_total",
                             "Entries generated, by mode.", ["mode"])
AI_RETRIES = Counter("postplan_ai_retries_total",
                     "Model calls tried again before the answer started, by error code.",
                     ["code"])
AI_CALLS_WAITING = Gauge("postplan_ai_calls_waiting",
                         "Model calls waiting for a slot (LLM_MAX_CONCURRENCY) now.")

PUBLISH_RESULTS = Counter("postplan_publish_results_total",
                          "Publish outcomes per entry and channel.", ["channel", "outcome"])
PUBLISH_ATTEMPTS = Counter("postplan_publish_attempts_total",
                           "Calls made to channel APIs, by outcome.", ["channel", "outcome"])
WEBHOOK_DELIVERIES = Counter(
    "postplan_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (delivered, retry, failed).", ["outcome"])
ADAPTER_AUTH_MISSING = Counter(
    "postplan_adapter_auth_missing_total",
    "Adapter auth/config missing events (a live publish refused for missing credentials).",
    ["channel", "reason"],
)
ADAPTER_CONFIGURED = Gauge("postplan_adapter_configured",
                           "1 when a channel's app credentials are configured.", ["channel"])

REQUEST_LATENCY = Histogram(
    "postplan_request_duration_seconds",
    "Latency of publish and export requests.",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SPOOL_DEPTH = Gauge("postplan_publish_spool_depth",
                    "Publish intents waiting in the local spool for the database.")
SPOOL_OLDEST_AGE = Gauge("postplan_publish_spool_oldest_age_seconds",
                         "Age of the oldest publish intent waiting in the local spool.")

for _outcome in SSE_OUTCOMES:
    SSE_STREAMS.labels(outcome=_outcome)
for _channel in CHANNELS:
    for _outcome in PUBLISH_OUTCOMES:
        PUBLISH_RESULTS.labels(channel=_channel, outcome=_outcome)
        PUBLISH_ATTEMPTS.labels(channel=_channel, outcome=_outcome)
    for _reason in ("missing", "invalid", "config_missing"):
        ADAPTER_AUTH_MISSING.labels(channel=_channel, reason=_reason)
    ADAPTER_CONFIGURED.labels(channel=_channel)
for _endpoint in ("publish", "export"):
    REQUEST_LATENCY.labels(endpoint=_endpoint)

# Media (issue 14): uploads by outcome and bytes stored, inspection time, processing backlog.
MEDIA_UPLOAD_OUTCOMES = ("stored", "aborted", "media_too_large", "media_quota_exceeded",
                         "unsupported_media", "media_type_mismatch", "media_empty",
                         "media_filename_invalid")
MEDIA_UPLOADS = Counter("postplan_media_uploads_total", "Media uploads, by outcome.",
                        ["outcome"])
MEDIA_UPLOAD_BYTES = Counter("postplan_media_upload_bytes_total",
                             "Bytes of media uploads stored.")
MEDIA_INSPECTION_SECONDS = Histogram(
    "postplan_media_inspection_seconds",
    "Server time to inspect one file (probe, checks, derived copies), by kind.", ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
MEDIA_PROCESSED = Counter("postplan_media_processed_total",
                          "Files processed, by result (ready, rejected).", ["result"])
MEDIA_QUEUE_DEPTH = Gauge("postplan_media_processing_queue_depth",
                          "Uploaded files waiting for or in processing.")
for _outcome in MEDIA_UPLOAD_OUTCOMES:
    MEDIA_UPLOADS.labels(outcome=_outcome)
for _kind in ("image", "video"):
    MEDIA_INSPECTION_SECONDS.labels(kind=_kind)
for _result in ("ready", "rejected"):
    MEDIA_PROCESSED.labels(result=_result)

# Flags (issue 6): the file provider's health and which flags can be on for anyone.
FLAG_NAMES = ("CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED")
FLAG_CONFIG_VALID = Gauge(
    "postplan_flag_config_valid",
    "0 while the flags file is unreadable or invalid (the last good values are in use), else 1.",
)
FLAG_CONFIG_VALID.set(1)
FLAG_RELOADS = Counter("postplan_flag_config_reloads_total",
                       "Flags file reads that found a change, by result.", ["result"])
FLAG_ACTIVE = Gauge(
    "postplan_flag_active",
    "1 when a flag is on for at least some users (default on, or targeting present).",
    ["flag"],
)
ALERTS_FIRING = Gauge("postplan_alerts_firing",
                      "Alerts the in-process evaluator currently considers firing.", ["alert"])
ALERT_NAMES = (
    "PostplanSSEErrorRateHigh",
    "PostplanPublishFailureRateHigh",
    "PostplanDryRunFailureRateHigh",
    "PostplanPublishFirstFailureAfterDeploy",
    "PostplanAdapterConfigMissing",
    "PostplanChannelAuthMissing",
    "PostplanPublishLatencyHigh",
    "PostplanExportLatencyHigh",
)
for _result in ("ok", "invalid", "missing"):
    FLAG_RELOADS.labels(result=_result)
for _flag in FLAG_NAMES:
    FLAG_ACTIVE.labels(flag=_flag)
for _alert in ALERT_NAMES:
    ALERTS_FIRING.labels(alert=_alert)
