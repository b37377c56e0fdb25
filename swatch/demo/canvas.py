"""Canvas helpers for drawing designs: coordinates, soft masks, anti-aliased shapes, slot compositing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

_SUPERSAMPLE = 2  # geometry is rasterised at 2x and area-averaged down, which anti-aliases every edge
_CV_SHIFT = 4  # OpenCV fixed-point bits for sub-pixel drawing
_CV_ONE = 1 << _CV_SHIFT

Weights = NDArray[np.float32]  # (slots, H, W): how much of each palette slot covers each pixel; sums to 1
Mask = NDArray[np.uint8]
Params = dict[str, Any]


def _axes(n: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Pixel-centre coordinates as a broadcastable row (x) and column (y)."""
    ax = np.arange(n, dtype=np.float32) + np.float32(0.5)
    return ax[None, :], ax[:, None]


def _rotated(n: int, degrees: float) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Full (n, n) coordinates rotated by `degrees` about the origin."""
    x, y = _axes(n)
    a = math.radians(degrees)
    c, s = np.float32(math.cos(a)), np.float32(math.sin(a))
    return x * c + y * s, y * c - x * s


def _one_hot(labels: NDArray[np.integer[Any]], slots: int) -> Weights:
    return np.stack([labels == k for k in range(slots)]).astype(np.float32)


def _composite(layers: Sequence[tuple[int, Mask]], slots: int, n: int) -> Weights:
    """Paint anti-aliased 0..255 masks, in order, over a slot-0 ground."""
    w = np.zeros((slots, n, n), dtype=np.float32)
    w[0] = 1.0
    for slot, mask in layers:
        alpha = mask.astype(np.float32) / np.float32(255.0)
        w *= 1.0 - alpha
        w[slot] += alpha
    return w


def _fx(v: float) -> int:
    return int(round(v * _CV_ONE))


def _ellipse(mask: Mask, cx: float, cy: float, ax: float, ay: float, angle: float) -> None:
    cv2.ellipse(
        mask,
        (_fx(cx), _fx(cy)),
        (max(1, _fx(ax)), max(1, _fx(ay))),
        angle,
        0,
        360,
        255,
        -1,
        cv2.LINE_AA,
        _CV_SHIFT,
    )


def _poly_points(xs: NDArray[np.floating[Any]], ys: NDArray[np.floating[Any]]) -> NDArray[np.int32]:
    return np.round(np.stack([xs, ys], axis=1) * _CV_ONE).astype(np.int32).reshape(-1, 1, 2)


def _no_repeats(rng: np.random.Generator, slots: int, count: int, start: int = 0) -> list[int]:
    """A run of `count` slot numbers in [start, slots) with no two neighbours equal, all used if possible."""
    pool = list(range(start, slots))
    seq = [int(v) for v in rng.permutation(pool)][:count]
    while len(seq) < count:
        choices = [p for p in pool if p != seq[-1]] or pool
        seq.append(int(rng.choice(choices)))
    return seq

