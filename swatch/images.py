"""Safe image decoding: every supported format to upright 8-bit RGB, with clear reasons for refusals."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

SUPPORTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF"}
SUPPORTED_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff"}
DEFAULT_MAX_PIXELS = 40_000_000

# Never decode half an image silently: a truncated file is an error, not a grey band.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(ValueError):
    """An image that cannot be used, with a one-line reason a person can act on."""


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Content hash of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def is_supported_name(name: str) -> bool:
    """True when the file name has an image extension Swatch reads."""
    return Path(name).suffix.lower() in SUPPORTED_SUFFIXES


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited on white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if mode == "I" and arr.max() <= 255:
            top = 255.0
        gray = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "1":
        return img.convert("L").convert("RGB")
    if mode == "CMYK" and img.format in ("JPEG", "MPO") and _adobe_inverted(img):
        # Adobe Photoshop writes inverted CMYK JPEGs; Pillow hands back the raw (inverted) channels.
        arr = 255 - np.asarray(img)
        img = Image.fromarray(arr, "CMYK")
    return img.convert("RGB")


def _adobe_inverted(img: Image.Image) -> bool:
    return bool(img.info.get("adobe")) and img.info.get("adobe_transform", 0) in (0, 2)


def open_image(
    source: Path | str | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_side: int | None = None,
) -> Image.Image:
    """Decode an image file or bytes to upright 8-bit RGB.

    `draft_side` lets JPEG decode at a reduced scale (1/2, 1/4, 1/8) while keeping both sides >= draft_side.
    Raises ImageError for empty, corrupt, truncated, unsupported or oversized (decompression bomb) input.
    """
    if isinstance(source, bytes | bytearray):
        if not source:
            raise ImageError("empty file")
        fp: io.BytesIO | Path = io.BytesIO(source)
    else:
        fp = Path(source)
        try:
            if fp.stat().st_size == 0:
                raise ImageError("empty file")
        except OSError as exc:
            raise ImageError(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fp)
    except UnidentifiedImageError as exc:
        raise ImageError("not an image (unrecognised format)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image too large to decode safely (decompression bomb guard): {exc}") from exc
    except OSError as exc:
        raise ImageError(f"cannot open image: {exc}") from exc
    try:
        if img.format not in SUPPORTED_FORMATS:
            raise ImageError(f"unsupported format {img.format}; use JPEG, PNG, WebP, BMP or TIFF")
        width, height = img.size
        if width <= 0 or height <= 0:
            raise ImageError("image has no pixels")
        if width * height > max_pixels:
            raise ImageError(
                f"image too large: {width}x{height} pixels exceeds the {max_pixels:,}-pixel limit "
                "(decompression bomb guard)"
            )
        if draft_side and img.format in ("JPEG", "MPO") and img.mode in ("RGB", "L", "CMYK", "YCbCr"):
            img.draft(img.mode, (draft_side, draft_side))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
        upright = ImageOps.exif_transpose(img) or img
        turned = upright.size != img.size and upright.size == (img.size[1], img.size[0])
        out = _to_rgb(upright)
        out.info["source_size"] = (height, width) if turned else (width, height)
        return out
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image too large to decode safely (decompression bomb guard): {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc) or type(exc).__name__
        if "truncated" in text.lower():
            raise ImageError(f"truncated image data ({text})") from exc
        raise ImageError(f"corrupt image data ({text})") from exc


def fit_within(img: Image.Image, side: int) -> Image.Image:
    """Downscale so the longer side is at most `side` (never upscale)."""
    if max(img.size) <= side:
        return img
    out = img.copy()
    out.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return out
