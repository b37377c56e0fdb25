"""Colour management: transforms from an image's embedded ICC profile to sRGB, and the sRGB profile to embed."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from dataclasses import dataclass

from PIL import ImageCms

log = logging.getLogger(__name__)

#: the sRGB profile (LittleCMS's built-in) that thumbnails embed, and that needs no conversion when found
SRGB_ICC: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
#: Photoshop's default conversion; NOCACHE makes one transform safe to share between threads
INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
FLAGS = ImageCms.Flags.BLACKPOINTCOMPENSATION | ImageCms.Flags.NOCACHE
#: an ICC profile's colour space -> the Pillow mode its pixels must be in
SPACE_MODES = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}
CACHE_SIZE = 32

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_CACHE: dict[str, ToSrgb | None] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ToSrgb:
    """A built transform: pixels in `mode` (as the profile `name` describes them) to sRGB RGB."""

    mode: str
    name: str
    transform: ImageCms.ImageCmsTransform


def srgb_transform(icc: bytes) -> ToSrgb | None:
    """The transform for an embedded profile, cached by content; None (a warning logged) for one that cannot
    be used: the image is then taken as sRGB, as a browser would."""
    key = hashlib.sha256(icc).hexdigest()
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    found = _build(icc)
    with _LOCK:
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = found
    return found


def _build(icc: bytes) -> ToSrgb | None:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = str(profile.profile.xcolor_space).strip()
        mode = SPACE_MODES.get(space)
        if mode is None:
            log.warning("ignoring an embedded ICC profile for the %r colour space; assuming sRGB", space)
            return None
        name = (profile.profile.profile_description or "unnamed profile").strip()
        transform = ImageCms.ImageCmsTransform(profile, _SRGB, mode, "RGB", INTENT, flags=FLAGS)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        log.warning("ignoring a broken embedded ICC profile (%s); assuming sRGB", exc)
        return None
    return ToSrgb(mode, name[:80], transform)
