"""What a file is, from its first bytes only (never its name or a client's Content-Type)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

__all__ = ["HEAD_BYTES", "SniffResult", "extension_matches", "sniff"]

#: How many leading bytes `sniff` needs (a WebM's DocType sits within the first few dozen).
HEAD_BYTES = 64

#: ISO base media (`ftyp`) brands: HEIF stills and image sequences.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1",
                          b"msf1"})
#: Audio-only or otherwise not a picture: postplan cannot post these.
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
#: Top-level QuickTime atoms a MOV without `ftyp` (old cameras) may start with.
_QT_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})

#: Extensions a filename may carry for each sniffed type (the first is the canonical one).
_ALIASES: dict[str, frozenset[str]] = {
    "jpg": frozenset({"jpg", "jpeg", "jpe", "jfif"}),
    "png": frozenset({"png"}),
    "webp": frozenset({"webp"}),
    "gif": frozenset({"gif"}),
    "heic": frozenset({"heic", "heif", "hif"}),
    "mp4": frozenset({"mp4", "m4v"}),
    "mov": frozenset({"mov", "qt"}),
    "webm": frozenset({"webm"}),
    "mkv": frozenset({"mkv"}),
    "avi": frozenset({"avi"}),
    "3gp": frozenset({"3gp", "3g2"}),
}


@dataclass(frozen=True)
class SniffResult:
    """The kind, the MIME type and the canonical extension the bytes are."""

    kind: Literal["image", "video"]
    content_type: str
    extension: str


def _image(content_type: str, extension: str) -> SniffResult:
    return SniffResult("image", content_type, extension)


def _video(content_type: str, extension: str) -> SniffResult:
    return SniffResult("video", content_type, extension)


def _iso_bmff(head: bytes) -> SniffResult | None:
    brand = head[8:12]
    # The compatible brands follow the major brand and the minor version.
    compatible = {head[i:i + 4] for i in range(16, min(len(head), 64) - 3, 4)}
    if brand in _AUDIO_BRANDS:
        return None
    if brand in {b"avif", b"avis"} or (b"avif" in compatible and not compatible & _HEIF_BRANDS
                                         - {b"mif1", b"msf1"}):
        return None  # AVIF: neither platform takes it and Pillow may lack the codec
    if brand in _HEIF_BRANDS and not compatible & {b"isom", b"mp41", b"mp42", b"avc1"}:
        return _image("image/heic", "heic")
    if brand == b"qt  ":
        return _video("video/quicktime", "mov")
    if brand.startswith(b"3g"):
        return _video("video/3gpp", "3gp")
    return _video("video/mp4", "mp4")


def sniff(head: bytes) -> SniffResult | None:
    """The type of a file from its first `HEAD_BYTES` bytes; None = not an image or a video
    postplan can read (text, audio, archives, empty, unknown)."""
    if head.startswith(b"\xff\xd8\xff"):
        return _image("image/jpeg", "jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _image("image/png", "png")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _image("image/gif", "gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _image("image/webp", "webp")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return _video("video/x-msvideo", "avi")
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if len(head) >= 8 and head[4:8] in _QT_ATOMS:
        return _video("video/quicktime", "mov")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: the DocType says WebM or Matroska; both carry video or audio only. An
        # audio-only file is caught by the probe, which finds no video stream.
        if b"webm" in head[:HEAD_BYTES]:
            return _video("video/webm", "webm")
        return _video("video/x-matroska", "mkv")
    return None


def extension_matches(filename: str, result: SniffResult) -> bool:
    """Whether `filename`'s extension fits the sniffed bytes (no extension fits anything)."""
    suffix = PurePath(filename).suffix.lower().lstrip(".")
    if not suffix:
        return True
    return suffix in _ALIASES.get(result.extension, frozenset({result.extension}))
