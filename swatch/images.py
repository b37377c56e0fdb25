"""Safe image decoding: every supported format to upright 8-bit RGB, with clear reasons for refusals."""

from __future__ import annotations

import io
import re
import threading
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

SUPPORTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF"}
SUPPORTED_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff"}
DEFAULT_MAX_PIXELS = 40_000_000
_OPEN_LOCK = threading.Lock()

# Never decode half an image silently: a truncated file is an error, not a grey band.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(ValueError):
    """An image that cannot be used, with a one-line reason a person can act on."""


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
    return img.convert("RGB")


def _plain_cmyk_jpeg(img: Image.Image) -> bool:
    """A CMYK JPEG without Adobe's APP14 marker stores its channels as is; Pillow reads every CMYK JPEG
    the Adobe way (inverted), so such a file must be inverted back."""
    return img.mode == "CMYK" and img.format in ("JPEG", "MPO") and "adobe" not in img.info


def _bomb_error(exc: Exception, max_pixels: int) -> ImageError:
    """Pillow's own guard fired (far above our limit): say so in our words, with the size it saw."""
    m = re.search(r"\((\d+) pixels\)", str(exc))
    seen = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
    return ImageError(f"image too large: {seen} exceeds the {max_pixels:,}-pixel limit (decompression bomb guard)")


def open_image(
    source: Path | str | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_side: int | None = None,
) -> Image.Image:
    """Decode an image file or bytes to upright 8-bit RGB; `info["source_size"]` is the upright full size.

    `draft_side` lets JPEG decode at a reduced scale (1/2, 1/4, 1/8) while keeping both sides >= draft_side.
    Raises ImageError for empty, corrupt, truncated, unsupported or oversized (decompression bomb) input.
    The file is closed on return, whatever happens.
    """
    if isinstance(source, bytes | bytearray):
        if not source:
            raise ImageError("empty file")
        return _decode(io.BytesIO(source), max_pixels, draft_side)
    path = Path(source)
    try:
        if path.stat().st_size == 0:  # before open(): also keeps a pipe from blocking us
            raise ImageError("empty file")
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from exc
    with fh:
        return _decode(fh, max_pixels, draft_side)


def _decode(fh: BinaryIO, max_pixels: int, draft_side: int | None) -> Image.Image:
    try:
        # catch_warnings swaps a process-wide filter list: one thread at a time (opening only reads a header)
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fh)
    except UnidentifiedImageError as exc:
        raise ImageError("not an image (unrecognised format)") from exc
    except Image.DecompressionBombError as exc:
        raise _bomb_error(exc, max_pixels) from exc
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
        img.load()  # within our pixel limit, far below Pillow's warning threshold
        plain_cmyk = _plain_cmyk_jpeg(img)
        decoded = img.size
        ImageOps.exif_transpose(img, in_place=True)  # no copy of the pixels
        pic: Image.Image = Image.fromarray(255 - np.asarray(img), "CMYK") if plain_cmyk else img
        turned = pic.size == (decoded[1], decoded[0]) and decoded[0] != decoded[1]
        out = _to_rgb(pic)
        out.info["source_size"] = (height, width) if turned else (width, height)
        return out
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise _bomb_error(exc, max_pixels) from exc
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
