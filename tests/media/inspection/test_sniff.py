"""sniff: the type from the first bytes only; extension_matches: the name against the bytes."""

from __future__ import annotations

import os

import pytest

from postplan.media.inspection import HEAD_BYTES, SniffResult, extension_matches, sniff


def _ftyp(brand: bytes, *compatible: bytes) -> bytes:
    body = brand + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body


@pytest.mark.parametrize(("head", "kind", "content_type", "extension"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image", "image/png", "png"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image", "image/webp", "webp"),
    (b"GIF89a\x01\x00", "image", "image/gif", "gif"),
    (_ftyp(b"heic", b"mif1", b"heic"), "image", "image/heic", "heic"),
    (_ftyp(b"mif1", b"heic"), "image", "image/heic", "heic"),
    (_ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video", "video/mp4", "mp4"),
    (_ftyp(b"mp42", b"mp42", b"isom"), "video", "video/mp4", "mp4"),
    (_ftyp(b"qt  ", b"qt  "), "video", "video/quicktime", "mov"),
    (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video", "video/quicktime", "mov"),
    (b"\x1a\x45\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\x82\x84webm", "video", "video/webm",
     "webm"),
    (b"\x1a\x45\xdf\xa3\xa3B\x86\x81\x01B\x82\x88matroska", "video", "video/x-matroska", "mkv"),
    (b"RIFF\x10\x00\x00\x00AVI LIST", "video", "video/x-msvideo", "avi"),
])
def test_known_types_are_recognised(head: bytes, kind: str, content_type: str,
                                    extension: str) -> None:
    assert sniff(head) == SniffResult(kind, content_type, extension)  # type: ignore[arg-type]


@pytest.mark.parametrize("head", [
    b"",
    b"\x00" * HEAD_BYTES,
    b"%PDF-1.7\n",
    b"PK\x03\x04zipfile",
    b"<!doctype html><html>",
    b"ID3\x04\x00mp3",
    _ftyp(b"M4A ", b"M4A ", b"isom"),  # audio in an MP4 box: not postable
    _ftyp(b"avif", b"avif", b"mif1"),
    b"\xff\xd8",  # too short to be a JPEG
])
def test_other_bytes_are_not_media(head: bytes) -> None:
    assert sniff(head) is None


def test_random_bytes_are_not_media() -> None:
    # Random heads could start like a format by chance; a few hundred draws do not.
    hits = [h for h in (os.urandom(HEAD_BYTES) for _ in range(300)) if sniff(h) is not None]
    assert len(hits) <= 1


@pytest.mark.parametrize(("name", "extension", "ok"), [
    ("holiday.JPG", "jpg", True),
    ("holiday.jpeg", "jpg", True),
    ("clip.m4v", "mp4", True),
    ("clip.MOV", "mov", True),
    ("IMG_0001.HEIC", "heic", True),
    ("no-extension", "mp4", True),
    ("clip.jpg", "mp4", False),  # an MP4 renamed .jpg
    ("photo.png", "jpg", False),
    ("archive.tar.gz", "png", False),
])
def test_extension_matches(name: str, extension: str, ok: bool) -> None:
    result = SniffResult("video" if extension in {"mp4", "mov"} else "image", "x/y", extension)
    assert extension_matches(name, result) is ok
