"""Media inspection: pure code (no HTTP, no database). Sniff the bytes, probe the file
(ffprobe for videos, Pillow for images), check it against each platform's published limits,
and make the copies a platform needs.

    sniffed = sniff(head)                       # None: 415 unsupported_media
    info = await probe(path)                    # InspectionError(code, message): rejected
    checks = evaluate(info, creator_max_video_seconds=None)   # {"tiktok:video": CheckResult}
    copies = await derive(info, path, out_dir)  # [Derived(role, path, content_type, w, h)]

A stored `info.model_dump(mode="json")` can be checked again later without the file:
`evaluate(Probe.model_validate(stored), creator_max_video_seconds=...)`. Every code and limit:
docs/media-checks.md.
"""

from __future__ import annotations

from postplan.media.inspection.checks import IMAGE_KEYS, VIDEO_KEYS, evaluate
from postplan.media.inspection.derive import derive
from postplan.media.inspection.probe import probe
from postplan.media.inspection.sets import evaluate_set
from postplan.media.inspection.sniff import HEAD_BYTES, SniffResult, extension_matches, sniff
from postplan.media.inspection.types import CheckResult, Derived, Finding, InspectionError, Probe

__all__ = [
    "HEAD_BYTES",
    "IMAGE_KEYS",
    "VIDEO_KEYS",
    "CheckResult",
    "Derived",
    "Finding",
    "InspectionError",
    "Probe",
    "SniffResult",
    "derive",
    "evaluate",
    "evaluate_set",
    "extension_matches",
    "probe",
    "sniff",
]
