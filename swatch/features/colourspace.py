"""Colour space: hex <-> CIELAB (the conversion the colour model uses), LCh with hue as an angle, palette rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from swatch.features.color import ColorExtractor, soft_histogram

HEX_RE = re.compile(r"#[0-9a-fA-F]{6}")
#: CIELAB chroma below which a colour counts as achromatic (white, grey, black): it has no usable hue
ACHROMATIC_CHROMA = 10.0


@dataclass(frozen=True)
class LCh:
    """A colour as CIE LCh(ab): lightness 0..100, chroma (distance from the grey axis), hue angle 0..360."""

    L: float
    C: float
    h: float

    @property
    def achromatic(self) -> bool:
        return self.C < ACHROMATIC_CHROMA


def hex_to_rgb(hex_: str) -> tuple[int, int, int]:
    """'#rrggbb' (either case) as 0..255 integers; ValueError otherwise."""
    if not isinstance(hex_, str) or not HEX_RE.fullmatch(hex_):
        raise ValueError(f"not a #rrggbb colour: {str(hex_)[:20]!r}")
    return int(hex_[1:3], 16), int(hex_[3:5], 16), int(hex_[5:7], 16)


def hex_to_lab(hexes: Sequence[str]) -> np.ndarray:
    """(n, 3) CIELAB of sRGB hex colours, converted as `features.color.image_lab` converts pixels."""
    rgb = np.array([hex_to_rgb(x) for x in hexes], dtype=np.float32).reshape(1, -1, 3) / 255.0
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64)


def lab_to_hex(lab: np.ndarray) -> list[str]:
    """'#rrggbb' of (n, 3) CIELAB colours (clipped into sRGB)."""
    arr = np.asarray(lab, dtype=np.float32).reshape(1, -1, 3)
    rgb = (np.clip(cv2.cvtColor(arr, cv2.COLOR_Lab2RGB).reshape(-1, 3), 0, 1) * 255).round().astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]


def lab_to_lch(lab: np.ndarray) -> np.ndarray:
    """(..., 3) Lab -> (..., 3) LCh: chroma = |(a, b)|, hue = atan2(b, a) in degrees, 0 <= h < 360."""
    lab = np.asarray(lab, dtype=np.float64)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue = np.mod(np.degrees(np.arctan2(lab[..., 2], lab[..., 1])), 360.0)
    return np.stack([lab[..., 0], chroma, hue], axis=-1)


def lch_of_hex(hex_: str) -> LCh:
    L, C, h = lab_to_lch(hex_to_lab([hex_]))[0]
    return LCh(float(L), float(C), float(h))


def hue_distance(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """The shorter way round the hue circle between angles, in degrees (0..180): 350 and 10 are 20 apart."""
    return np.abs(np.mod(np.asarray(a, np.float64) - np.asarray(b, np.float64) + 180.0, 360.0) - 180.0)


def palette_descriptor(extractor: ColorExtractor, lab: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """The colour model's (dim,) unit row for a palette: what `ColorExtractor.describe` gives an image whose
    pixels are exactly these colours in these shares, spread evenly (so the centre prior weighs every colour
    alike) and with no backdrop suppression (a picked white is meant, not a studio background)."""
    weights = np.asarray(shares, dtype=np.float32)
    hist = soft_histogram(np.asarray(lab, dtype=np.float32), weights, extractor.bins)  # type: ignore[arg-type]
    hist /= max(hist.sum(), 1e-12)
    row = np.power(hist, extractor.power).astype(np.float32)
    return row / max(float(np.linalg.norm(row)), 1e-12)
