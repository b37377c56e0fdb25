"""Safe image decoding: every supported format to upright 8-bit sRGB, memory bounded, refusals with a reason."""

from __future__ import annotations

import ctypes
import io
import logging
import re
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pillow_heif
from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

from swatch.icc import SRGB_ICC, srgb_transform

log = logging.getLogger(__name__)

SUPPORTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "HEIF", "AVIF"}
SUPPORTED_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif",
                      ".hif", ".avif"}
DEFAULT_MAX_PIXELS = 40_000_000
#: full-size decodes at once per process (each holds up to max_pixels x 4 bytes until it is downscaled)
DEFAULT_DECODE_SLOTS = 2
#: one compressed PNG text or ICC chunk may inflate to this much; all text chunks of a file to the second
MAX_CHUNK_BYTES = 1 << 20
MAX_TEXT_BYTES = 4 << 20
MAX_ICC_BYTES = 4 << 20
#: after a decode this large, freed memory is handed back to the system at once (glibc keeps it otherwise)
TRIM_PIXELS = 4_000_000
#: EXIF orientation -> the transpose that makes the picture upright
ORIENTATIONS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
                7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
#: failures a decoder raises for bad data (pillow-heif and Pillow's plugins are not all alike)
DECODE_FAILURES = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, RuntimeError,
                   ArithmeticError)

# Never decode half an image silently: a truncated file is an error, not a grey band.
ImageFile.LOAD_TRUNCATED_IMAGES = False
PngImagePlugin.MAX_TEXT_CHUNK = MAX_CHUNK_BYTES
PngImagePlugin.MAX_TEXT_MEMORY = MAX_TEXT_BYTES
pillow_heif.register_heif_opener()

_SIXTEEN_TO_EIGHT = (np.arange(65536, dtype=np.float64) * (255.0 / 65535.0)).astype(np.uint8)
_OPEN_LOCK = threading.Lock()
_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()
_MALLOC_TRIM: Callable[[int], int] | None
try:
    _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim
except (OSError, AttributeError):  # not glibc
    _MALLOC_TRIM = None


class ImageError(ValueError):
    """An image that cannot be used, with a one-line reason a person can act on."""


def is_supported_name(name: str) -> bool:
    """True when the file name has an image extension Swatch reads."""
    return Path(name).suffix.lower() in SUPPORTED_SUFFIXES


def decode_slots(count: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore that lets at most `count` full-size decodes run at once."""
    with _SLOTS_LOCK:
        found = _SLOTS.get(count)
        if found is None:
            found = _SLOTS[count] = threading.BoundedSemaphore(max(1, count))
        return found


def open_image(
    source: Path | str | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_side: int | None = None,
    slots: int = DEFAULT_DECODE_SLOTS,
) -> Image.Image:
    """Decode an image file or bytes to upright 8-bit sRGB RGB; `info["source_size"]` is the upright full size.

    The size is checked from the header before any pixel is decoded. With `draft_side` the picture comes back
    downscaled (JPEG at decode, 1/2..1/8; others by an integer box filter right after) keeping both sides >=
    draft_side. An embedded ICC profile is converted to sRGB (a broken one is ignored, with a warning). At most
    `slots` decodes run at once. Raises ImageError for empty, corrupt, truncated, unsupported or oversized
    input and for oversized metadata. The file is closed on return, whatever happens.
    """
    if isinstance(source, bytes | bytearray):
        if not source:
            raise ImageError("empty file")
        return _decode(io.BytesIO(source), max_pixels, draft_side, slots)
    path = Path(source)
    try:
        if path.stat().st_size == 0:  # before open(): also keeps a pipe from blocking us
            raise ImageError("empty file")
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from exc
    with fh:
        return _decode(fh, max_pixels, draft_side, slots)


def _metadata_error(exc: Exception) -> ImageError | None:
    """Pillow's PNG chunk limits, in our words (None for any other error)."""
    text = str(exc)
    if "MAX_TEXT_CHUNK" in text:
        return ImageError(f"image metadata too large: a compressed PNG text or ICC chunk inflates past "
                          f"{MAX_CHUNK_BYTES:,} bytes")
    if "MAX_TEXT_MEMORY" in text:
        return ImageError(f"image metadata too large: PNG text chunks hold more than {MAX_TEXT_BYTES:,} bytes")
    return None


def _bomb_error(exc: Exception, max_pixels: int) -> ImageError:
    """Pillow's own guard fired (far above our limit): say so in our words, with the size it saw."""
    m = re.search(r"\((\d+) pixels\)", str(exc))
    seen = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
    return ImageError(f"image too large: {seen} exceeds the {max_pixels:,}-pixel limit (decompression bomb guard)")


def _open(fh: BinaryIO, max_pixels: int) -> Image.Image:
    """Read the header (and, for PNG, the chunks before the pixels) only."""
    try:
        # catch_warnings swaps a process-wide filter list: one thread at a time (opening only reads a header)
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(fh)
    except UnidentifiedImageError as exc:
        raise ImageError("not an image (unrecognised format)") from exc
    except Image.DecompressionBombError as exc:
        raise _bomb_error(exc, max_pixels) from exc
    except DECODE_FAILURES as exc:
        raise (_metadata_error(exc) or ImageError(f"cannot open image: {exc}")) from exc


def _check_header(img: Image.Image, max_pixels: int) -> None:
    if img.format not in SUPPORTED_FORMATS:
        raise ImageError(f"unsupported format {img.format}; use JPEG, PNG, WebP, BMP, TIFF, HEIC or AVIF")
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError("image has no pixels")
    if width * height > max_pixels:
        raise ImageError(f"image too large: {width}x{height} pixels exceeds the {max_pixels:,}-pixel limit "
                         "(decompression bomb guard)")
    icc = img.info.get("icc_profile") or b""
    if len(icc) > MAX_ICC_BYTES:
        raise ImageError(f"image metadata too large: a {len(icc):,}-byte ICC profile (at most {MAX_ICC_BYTES:,})")


def _decode(fh: BinaryIO, max_pixels: int, draft_side: int | None, slots: int) -> Image.Image:
    img = _open(fh, max_pixels)
    try:
        _check_header(img, max_pixels)
        with decode_slots(slots):
            out = _pixels(img, draft_side)
            if out is not img and img.width * img.height >= TRIM_PIXELS:
                img.close()  # the full-size buffer goes now, not at the next garbage collection
                if _MALLOC_TRIM is not None:
                    _MALLOC_TRIM(0)
            return out
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise _bomb_error(exc, max_pixels) from exc
    except DECODE_FAILURES as exc:
        found = _metadata_error(exc)
        if found is not None:
            raise found from exc
        text = str(exc) or type(exc).__name__
        if "truncated" in text.lower():
            raise ImageError(f"truncated image data ({text})") from exc
        raise ImageError(f"corrupt image data ({text})") from exc


def _pixels(img: Image.Image, draft_side: int | None) -> Image.Image:
    """Decode, downscale, turn upright and colour-convert, in the order that keeps the fewest pixels around."""
    width, height = img.size
    plain_cmyk = _plain_cmyk_jpeg(img)
    if draft_side and img.format in ("JPEG", "MPO") and img.mode in ("RGB", "L", "CMYK", "YCbCr"):
        img.draft(img.mode, (draft_side, draft_side))
    img.load()  # within our pixel limit, far below Pillow's warning threshold; PNG reads its last chunks here
    orientation = _orientation(img)
    icc = img.info.get("icc_profile") or None
    pic = _shrink(img, draft_side)
    if plain_cmyk:
        pic = pic.point(list(range(255, -1, -1)) * 4)
    if orientation in ORIENTATIONS:
        pic = pic.transpose(ORIENTATIONS[orientation])
    out = _to_srgb(pic, icc)
    turned = orientation in (5, 6, 7, 8)
    out.info = {"source_size": (height, width) if turned else (width, height)}
    return out


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 when absent or unreadable), read from the file's tags before any downscaling."""
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except DECODE_FAILURES:
        return 1


def _plain_cmyk_jpeg(img: Image.Image) -> bool:
    """A CMYK JPEG without Adobe's APP14 marker stores its channels as is; Pillow reads every CMYK JPEG
    the Adobe way (inverted), so such a file must be inverted back."""
    return img.mode == "CMYK" and img.format in ("JPEG", "MPO") and "adobe" not in img.info


def _shrink(img: Image.Image, draft_side: int | None) -> Image.Image:
    """Box-filter by the largest integer factor that keeps both sides >= draft_side; 16-bit grey to 8 bits."""
    factor = min(img.size) // draft_side if draft_side else 1
    if img.mode in SIXTEEN_BIT:
        arr = np.asarray(img)
        if factor > 1:
            arr = arr[: arr.shape[0] // factor * factor, : arr.shape[1] // factor * factor]
            arr = arr.reshape(arr.shape[0] // factor, factor, -1, factor).mean(axis=(1, 3))
        return Image.fromarray(_SIXTEEN_TO_EIGHT[arr.astype(np.uint16, copy=False)], "L")
    if factor < 2:
        return img
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode in ("1", "PA"):
        img = img.convert("L" if img.mode == "1" else "RGBA")
    return img.reduce(factor)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited on white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 255.0 if arr.max() <= 255 else max(float(arr.max()), 1.0)
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


def _to_srgb(pic: Image.Image, icc: bytes | None) -> Image.Image:
    """8-bit sRGB RGB: through the embedded profile when there is a usable one, else taken as sRGB already."""
    found = srgb_transform(icc) if icc and icc != SRGB_ICC else None
    if found is None:
        return _to_rgb(pic)
    if found.mode == "CMYK":
        if pic.mode != "CMYK":
            log.warning("ignoring a CMYK ICC profile (%s) on a %s image; assuming sRGB", found.name, pic.mode)
            return _to_rgb(pic)
        src = pic
    elif found.mode == "L":
        if pic.mode not in ("L", "LA", "La", "I", "F", "1"):
            log.warning("ignoring a grey ICC profile (%s) on a %s image; assuming sRGB", found.name, pic.mode)
            return _to_rgb(pic)
        src = _to_rgb(pic).convert("L")
    else:
        src = _to_rgb(pic)
    try:
        return found.transform.apply(src)
    except DECODE_FAILURES as exc:
        log.warning("cannot apply the ICC profile %s (%s); assuming sRGB", found.name, exc)
        return _to_rgb(pic)


def fit_within(img: Image.Image, side: int) -> Image.Image:
    """Downscale so the longer side is at most `side` (never upscale)."""
    if max(img.size) <= side:
        return img
    out = img.copy()
    out.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return out
