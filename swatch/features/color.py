"""Colour model: soft-binned CIELAB histograms with studio-background suppression, compared by cosine."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image

from swatch.features.base import Extractor
from swatch.images import open_image

L_RANGE = (0.0, 100.0)
AB_RANGE = (-80.0, 80.0)


def image_lab(img: Image.Image, side: int) -> np.ndarray:
    """(side*side, 3) CIELAB pixels (L 0..100, a/b about -128..127) of the image resized to side x side."""
    arr = np.asarray(img, dtype=np.uint8)
    small = cv2.resize(arr, (side, side), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return lab.reshape(-1, 3)


def background_weights(lab: np.ndarray, side: int, chroma_max: float = 12.0, delta: float = 10.0) -> np.ndarray:
    """Per-pixel weights: ~0 for a plain low-chroma (white/grey) backdrop that fills the border, 1 elsewhere."""
    grid = lab.reshape(side, side, 3)
    border = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    chroma = np.hypot(border[:, 1], border[:, 2])
    neutral = border[chroma < chroma_max]
    weights = np.ones(len(lab), dtype=np.float32)
    if len(neutral) < 0.5 * len(border):
        return weights
    ref = np.median(neutral, axis=0)
    dist = np.linalg.norm(lab - ref, axis=1)
    pix_chroma = np.hypot(lab[:, 1], lab[:, 2])
    is_bg = (dist < delta) & (pix_chroma < chroma_max)
    if is_bg.mean() > 0.9:  # the design itself is plain and neutral: keep it
        return weights
    weights[is_bg] = 0.02
    return weights


def centre_weights(side: int, sigma: float) -> np.ndarray:
    """(side*side,) Gaussian prior on the image centre (sigma in image widths); all ones when sigma <= 0.

    Product and garment photos put the cloth in the middle; a mild prior damps skin, props and floor at the edges.
    """
    if sigma <= 0:
        return np.ones(side * side, np.float32)
    ax = (np.arange(side, dtype=np.float32) + 0.5) / side - 0.5
    d2 = ax[None, :] ** 2 + ax[:, None] ** 2
    return np.exp(-d2 / (2.0 * sigma**2)).astype(np.float32).ravel()


def soft_histogram(lab: np.ndarray, weights: np.ndarray, bins: tuple[int, int, int]) -> np.ndarray:
    """Trilinear soft assignment of Lab pixels to a regular (L, a, b) grid of bin centres (flattened)."""
    lo = np.array([L_RANGE[0], AB_RANGE[0], AB_RANGE[0]], dtype=np.float32)
    hi = np.array([L_RANGE[1], AB_RANGE[1], AB_RANGE[1]], dtype=np.float32)
    nb = np.array(bins, dtype=np.int64)
    pos = (np.clip(lab, lo, hi) - lo) / (hi - lo) * (nb - 1).astype(np.float32)
    base = np.minimum(np.floor(pos).astype(np.int64), nb - 2)
    frac = (pos - base).astype(np.float64)
    total = int(np.prod(nb))
    hist = np.zeros(total, dtype=np.float64)
    w = weights.astype(np.float64)
    for dl in (0, 1):
        wl = w * (frac[:, 0] if dl else 1 - frac[:, 0])
        for da in (0, 1):
            wla = wl * (frac[:, 1] if da else 1 - frac[:, 1])
            for db in (0, 1):
                wlab = wla * (frac[:, 2] if db else 1 - frac[:, 2])
                idx = ((base[:, 0] + dl) * nb[1] + base[:, 1] + da) * nb[2] + base[:, 2] + db
                hist += np.bincount(idx, weights=wlab, minlength=total)
    return hist


class ColorExtractor(Extractor):
    """A perceptual colour distribution: a soft CIELAB histogram, studio backdrop suppressed, centre-weighted,
    mapped by a power before cosine (0.5 would make cosine the Bhattacharyya overlap; 0.75 lets the main colours
    weigh a little more, which matched base-colour labels better)."""

    name = "color"
    decode_side = 128

    def __init__(self, bins: tuple[int, int, int] = (5, 9, 9), side: int = 48, background: bool = True,
                 centre_sigma: float = 0.4, power: float = 0.75):
        self.bins = tuple(int(b) for b in bins)
        if len(self.bins) != 3 or min(self.bins) < 2:
            raise ValueError("bins must be three integers >= 2")
        self.side = int(side)
        self.background = bool(background)
        self.centre_sigma = float(centre_sigma)
        self.power = float(power)
        self.dim = int(np.prod(self.bins))
        self._prior = centre_weights(self.side, self.centre_sigma)

    def describe(self, img: Image.Image) -> np.ndarray:
        """One image's (unnormalised) descriptor."""
        lab = image_lab(img, self.side)
        weights = background_weights(lab, self.side) if self.background else np.ones(len(lab), np.float32)
        hist = soft_histogram(lab, weights * self._prior, self.bins)  # type: ignore[arg-type]
        hist /= max(hist.sum(), 1e-12)
        return np.power(hist, self.power).astype(np.float32)

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        return np.stack([self.describe(im) for im in images])

    def params(self) -> dict[str, Any]:
        return {"bins": list(self.bins), "side": self.side, "background": self.background,
                "centre_sigma": self.centre_sigma, "power": self.power, "space": "CIELAB"}


def dominant_palette(img: Image.Image, k: int = 5, side: int = 64) -> list[dict[str, Any]]:
    """The k main colours (hex and share), background left out: the 'why it matched' swatches."""
    lab = image_lab(img, side)
    weights = background_weights(lab, side)
    keep = lab[weights > 0.5]
    if len(keep) < k:
        keep = lab
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)
    _, labels, centres = cv2.kmeans(keep.astype(np.float32), k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    counts = np.bincount(labels.ravel(), minlength=k).astype(np.float64)
    rgb = cv2.cvtColor(centres.reshape(1, -1, 3).astype(np.float32), cv2.COLOR_Lab2RGB).reshape(-1, 3)
    order = np.argsort(-counts)
    out = []
    for i in order:
        r, g, b = (np.clip(rgb[i], 0, 1) * 255).round().astype(int)
        out.append({"hex": f"#{r:02x}{g:02x}{b:02x}", "share": round(float(counts[i] / counts.sum()), 3),
                    "lab": [round(float(v), 1) for v in centres[i]]})
    return out


#: the palette size the page asks for, computed and stored for every image at ingest
DEFAULT_PALETTE_K = 5


def thumbnail_palette(data: bytes, k: int, max_pixels: int, slots: int) -> list[dict[str, Any]]:
    """`dominant_palette` of an encoded thumbnail, decoded the one way ingest and the palette endpoint share
    (so a palette stored at ingest equals one computed on demand); ImageError when it cannot be decoded."""
    img = open_image(data, max_pixels=max_pixels, draft_side=128, slots=slots)
    return dominant_palette(img, k=k)
