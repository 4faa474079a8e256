"""`evaluate_set`: the files of one post together (counts, kinds, carousel rules)."""

from __future__ import annotations

from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel, EntryFormat
from postplan.media.inspection.checks import evaluate
from postplan.media.inspection.limits import INSTAGRAM, TIKTOK
from postplan.media.inspection.types import CheckResult, Finding, Probe

__all__ = ["evaluate_set"]

#: (fewest, most) files, and the kinds a post of each format takes.
_SHAPES: dict[tuple[Channel, EntryFormat], tuple[int, int, frozenset[str]]] = {
    (Channel.tiktok, EntryFormat.video): (1, 1, frozenset({"video"})),
    (Channel.tiktok, EntryFormat.photo): (TIKTOK.photos_min, TIKTOK.photos_max,
                                          frozenset({"image"})),
    (Channel.instagram, EntryFormat.image): (1, 1, frozenset({"image"})),
    (Channel.instagram, EntryFormat.reel): (1, 1, frozenset({"video"})),
    (Channel.instagram, EntryFormat.story): (1, 1, frozenset({"image", "video"})),
    # Images and videos may mix; reels cannot be carousel items (a video item is a VIDEO).
    (Channel.instagram, EntryFormat.carousel): (INSTAGRAM.carousel_min, INSTAGRAM.carousel_max,
                                                frozenset({"image", "video"})),
}


def evaluate_set(probes: list[Probe], channel: str, format: str, *,
                 creator_max_video_seconds: int | None = None) -> CheckResult:
    """One post's files in order: each file's own check for `channel:format`, prefixed with
    its position, plus the post's count and kind rules. `derived` is None here: each file's
    own check names its copy."""
    chan, fmt = Channel(channel), EntryFormat(format)
    if fmt not in FORMATS_BY_CHANNEL[chan]:
        raise ValueError(f"{channel} has no {format} format")
    fewest, most, kinds = _SHAPES[(chan, fmt)]
    findings: list[Finding] = []
    notes: list[Finding] = []
    name = f"A {chan.value.capitalize()} {fmt.value}"
    if not fewest <= len(probes) <= most:
        span = f"exactly {fewest}" if fewest == most else f"{fewest} to {most}"
        findings.append(Finding(code="media_count_invalid", message=f"{name} takes {span} "
                                f"file{'s' if most > 1 else ''}; this has {len(probes)}."))
    key = f"{chan.value}:{fmt.value}"
    for number, probe in enumerate(probes, start=1):
        prefix = f"File {number}: " if len(probes) > 1 else ""
        if probe.kind not in kinds:
            findings.append(Finding(code="media_type_invalid", message=f"{prefix}{name} takes "
                                    f"{' or '.join(sorted(kinds))} files, not a {probe.kind}."))
            continue
        result = evaluate(probe, creator_max_video_seconds=creator_max_video_seconds)[key]
        findings += [Finding(code=f.code, message=prefix + f.message) for f in result.findings]
        notes += [Finding(code=n.code, message=prefix + n.message) for n in result.notes
                  if n.code != "carousel_cropped"]
    if fmt is EntryFormat.carousel and probes:
        first = probes[0].width / probes[0].height if probes[0].height else 0
        if any(abs(p.width / p.height - first) > 0.01 for p in probes[1:] if p.height):
            notes.append(Finding(code="carousel_cropped", message="Instagram crops every "
                                 "carousel item to the first item's aspect ratio; these differ."))
    return CheckResult(ok=not findings, findings=findings, notes=notes)
