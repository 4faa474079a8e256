"""Images through Pillow (HEIC/HEIF through pillow-heif): probing and the derived copies.

Everything here blocks (decoding); `probe` and `derive` run it in a worker thread.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from postplan.media.inspection.sniff import SniffResult
from postplan.media.inspection.types import InspectionError, Probe

__all__ = ["MAX_PIXELS", "probe_image", "save_jpeg"]

pillow_heif.register_heif_opener()

#: Pillow refuses more pixels than this as a decompression bomb (twice its warning level,
#: about 179 MP): larger than the 50 MP a phone saves by default.
MAX_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)
#: EXIF tag 0x0112.
_ORIENTATION = 0x0112
_FORMATS = {"JPEG": "jpeg", "MPO": "mpo", "PNG": "png", "WEBP": "webp", "GIF": "gif",
            "HEIF": "heif"}


def _open(path: Path) -> Image.Image:
    """Open and fully decode `path`: a truncated or damaged file fails here, not later."""
    with warnings.catch_warnings():
        # Pillow warns between its two levels; the refusal above MAX_PIXELS is what counts.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
            try:
                image.load()
            except BaseException:
                image.close()
                raise
        except Image.DecompressionBombError:
            raise InspectionError("media_corrupt", f"the image has more than "
                                  f"{MAX_PIXELS // 1_000_000} million pixels") from None
        except UnidentifiedImageError:
            raise InspectionError("media_corrupt", "the image cannot be read") from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            # Pillow reports truncation and bad data as OSError/SyntaxError/ValueError.
            reason = str(exc).replace(str(path), "the file")[:200]
            raise InspectionError("media_corrupt",
                                  f"the image is damaged or truncated: {reason}") from None
        except Exception as exc:
            # Decoders of untrusted bytes can fail in ways no list foresees (IndexError,
            # ZeroDivisionError in a plugin); a bad upload is rejected, never a crash.
            raise InspectionError("media_corrupt", "the image cannot be decoded "
                                  f"({type(exc).__name__})") from None
    return image


def _non_srgb_profile(image: Image.Image) -> bool:
    data = image.info.get("icc_profile")
    if not data:
        return False
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
        description = ImageCms.getProfileDescription(profile) or ""
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError):
        return True
    return "srgb" not in description.lower()


def probe_image(path: Path, sniffed: SniffResult) -> Probe:
    """Format, displayed size (EXIF orientation applied), orientation, mode, ICC, frames."""
    image = _open(path)
    try:
        container = _FORMATS.get(image.format or "", (image.format or "unknown").lower())
        orientation = image.getexif().get(_ORIENTATION)
        orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 \
            else None
        width, height = image.size
        if orientation in (5, 6, 7, 8):  # the four that turn the picture a quarter
            width, height = height, width
        return Probe(
            kind="image",
            content_type=sniffed.content_type,
            container=container,
            bytes=path.stat().st_size,
            width=width,
            height=height,
            exif_orientation=orientation,
            color_mode=image.mode,
            icc_profile=_non_srgb_profile(image),
            # Only GIF and WebP frames are animation; an MPO's second picture is a preview or a
            # depth map, a HEIF's extra images bursts or thumbnails: the primary one is the photo.
            frames=int(getattr(image, "n_frames", 1)) if container in ("gif", "webp") else 1,
        )
    finally:
        image.close()


def save_jpeg(src: Path, dest: Path, *, box: tuple[int, int] | None,
              quality: int = 90) -> tuple[int, int]:
    """Write `src` as a baseline sRGB-ish RGB JPEG with its EXIF orientation applied, scaled
    down (never up) to fit `box`; the (width, height) written."""
    image = _open(src)
    try:
        image.seek(0)  # animated GIF/WebP: the first frame
        upright = ImageOps.exif_transpose(image)
        rgb = _to_srgb(_flatten(upright), image.info.get("icc_profile"))
        if box is not None:
            rgb.thumbnail(box, Image.Resampling.LANCZOS)
        # No EXIF copied: the orientation is applied, and camera metadata (GPS) stays home.
        rgb.save(dest, "JPEG", quality=quality, optimize=True)
        return rgb.size
    finally:
        image.close()


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert from an embedded profile (Display P3 from phones) to sRGB, since the copy
    carries no profile and platforms assume sRGB."""
    if not icc:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                              outputMode="RGB")
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError):
        return image  # an unreadable profile: keep the pixels as they are
    return converted if converted is not None else image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB; transparency over white (a logo on transparent PNG stays readable)."""
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
