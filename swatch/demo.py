"""Deterministic procedural demo catalogue of textile designs, so a fresh clone runs without outside data."""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from swatch.fsutil import atomic_write

METADATA_FILE = "image_metadata_map.json"
JPEG_QUALITY = 90
MIN_SIZE = 32
MAX_SIZE = 4096
MAX_DESIGNS = 89_999  # design codes are KM10001 .. KM99999

_SUPERSAMPLE = 2  # geometry is rasterised at 2x and area-averaged down, which anti-aliases every edge
_CV_SHIFT = 4  # OpenCV fixed-point bits for sub-pixel drawing
_CV_ONE = 1 << _CV_SHIFT

Weights = NDArray[np.float32]  # (slots, H, W): how much of each palette slot covers each pixel; sums to 1
Mask = NDArray[np.uint8]
Params = dict[str, Any]

SEASONS: tuple[str, ...] = ("AW22", "SS23", "AW23", "SS24", "AW24")

# Each quality (fabric line) has one fixed fibre composition, percentages summing to 100.
QUALITIES: dict[str, tuple[tuple[str, int], ...]] = {
    "DUNDEE SUIT": (("WV", 60), ("PES", 40)),
    "OSCAR PRESTIGE": (("WV", 90), ("SE", 10)),
    "HARROW TWILL": (("WV", 70), ("PES", 28), ("EL", 2)),
    "LINEN CLASSIC": (("LI", 55), ("CO", 45)),
    "VELVET ROYAL": (("VI", 82), ("SE", 18)),
    "COTTON POPLIN": (("CO", 97), ("EL", 3)),
}
FIBRES: dict[str, str] = {
    "WV": "wool",
    "PES": "polyester",
    "CO": "cotton",
    "LI": "linen",
    "SE": "silk",
    "EL": "elastane",
    "VI": "viscose",
}

# Named palettes, ground colour first. Every colourway of every design draws one of these, so the
# palette name is the colour ground truth shared across designs and families.
_PALETTE_HEX: dict[str, tuple[str, ...]] = {
    "navy-cream": ("#1d2747", "#efe5cc", "#7d8fb3"),
    "burgundy-gold": ("#6e1628", "#c9a23f", "#3b1d19"),
    "forest-ochre": ("#22462d", "#cc8e2d", "#e6dcbe", "#6f8a5c"),
    "charcoal-grey": ("#36383c", "#8c8e92", "#cdcdd0"),
    "pastel-pinks": ("#f4d6d8", "#e2a0af", "#c4788c", "#faf4f2"),
    "teal-coral": ("#166e73", "#f08064", "#ecdcbe"),
    "camel-chocolate": ("#c19a6b", "#4e3020", "#efe6d2"),
    "sky-white": ("#8cb9e1", "#f8f8f5", "#3c64a0"),
    "black-white": ("#161618", "#f0f0ec"),
    "olive-rust": ("#646932", "#aa4b28", "#d7c8a5", "#33361a"),
    "plum-lilac": ("#5a2850", "#bea0d2", "#c8c8d2"),
    "mustard-slate": ("#d7aa28", "#505f6e", "#f2ede0"),
    "royal-scarlet": ("#233c96", "#be232d", "#f4f1ea", "#1e5a32"),
    "sage-stone": ("#96aa8c", "#c8bea9", "#506446"),
}


def _hex_rgb(code: str) -> tuple[int, int, int]:
    return int(code[1:3], 16), int(code[3:5], 16), int(code[5:7], 16)


PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    name: tuple(_hex_rgb(c) for c in colours) for name, colours in _PALETTE_HEX.items()
}


# ---------------------------------------------------------------------------------------------
# Canvas helpers
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Pattern families: sample_<family>(rng) -> (params, slots); draw_<family>(params, n) -> weights.
# All lengths in params are fractions of the canvas side, so a design looks the same at any size.
# ---------------------------------------------------------------------------------------------


def _sample_stripes(rng: np.random.Generator) -> tuple[Params, int]:
    slots = int(rng.integers(2, 5))
    coloured = _no_repeats(rng, slots, int(rng.integers(slots - 1, 5)), start=1)
    bands: list[tuple[float, int]] = []
    for slot in coloured:
        bands.append((float(rng.uniform(0.012, 0.07)), 0))
        kind = rng.choice(["pin", "medium", "wide"], p=[0.3, 0.45, 0.25])
        lo, hi = {"pin": (0.005, 0.009), "medium": (0.014, 0.03), "wide": (0.035, 0.08)}[str(kind)]
        bands.append((float(rng.uniform(lo, hi)), slot))
    angle = float(rng.choice([0.0, 0.0, 90.0, 90.0, 45.0, 135.0, 15.0, 75.0]))
    return {"angle": angle, "bands": bands}, slots


def _draw_stripes(p: Params, n: int) -> Weights:
    u, _ = _rotated(n, p["angle"])
    widths = np.array([b[0] for b in p["bands"]], dtype=np.float64) * n
    band_slots = np.array([b[1] for b in p["bands"]], dtype=np.int64)
    edges = np.cumsum(widths)
    pos = np.mod(u, edges[-1])
    idx = np.minimum(np.searchsorted(edges, pos, side="right"), len(widths) - 1)
    return _one_hot(band_slots[idx], int(band_slots.max()) + 1)


def _sample_checks(rng: np.random.Generator) -> tuple[Params, int]:
    variant = str(rng.choice(["gingham", "buffalo", "windowpane"]))
    angle = 45.0 if rng.random() < 0.2 else 0.0
    params: Params
    if variant == "gingham":
        params = {"cell": float(rng.uniform(0.03, 0.09)), "duty": float(rng.uniform(0.4, 0.6))}
        slots = 3
    elif variant == "buffalo":
        params = {"cell": float(rng.uniform(0.07, 0.15)), "line": float(rng.uniform(0.004, 0.01))}
        slots = 3 if rng.random() < 0.5 else 2
    else:
        params = {"cell": float(rng.uniform(0.1, 0.22)), "line": float(rng.uniform(0.006, 0.014))}
        slots = 3 if rng.random() < 0.5 else 2
    params.update(variant=variant, angle=angle, slots=slots)
    return params, slots


def _draw_checks(p: Params, n: int) -> Weights:
    u, v = _rotated(n, p["angle"])
    cell = p["cell"] * n
    fu, fv = np.mod(u, cell) / cell, np.mod(v, cell) / cell
    variant = p["variant"]
    if variant == "gingham":
        a, b = fu < p["duty"], fv < p["duty"]
        labels = np.where(a & b, 1, np.where(a ^ b, 2, 0))
        return _one_hot(labels, 3)
    line = p["line"] / p["cell"]
    if variant == "buffalo":
        labels = ((fu < 0.5) ^ (fv < 0.5)).astype(np.int64)
        if p["slots"] == 3:
            over = (np.abs(fu - 0.25) < line / 2) | (np.abs(fv - 0.25) < line / 2)
            labels = np.where(over, 2, labels)
        return _one_hot(labels, p["slots"])
    labels = ((fu < line) | (fv < line)).astype(np.int64)
    if p["slots"] == 3:
        second = (np.abs(fu - 0.5) < line / 3) | (np.abs(fv - 0.5) < line / 3)
        labels = np.where(second & (labels == 0), 2, labels)
    return _one_hot(labels, p["slots"])


def _sample_plaid(rng: np.random.Generator) -> tuple[Params, int]:
    slots = int(rng.integers(3, 5))
    half_count = int(rng.integers(max(3, slots), 7))
    half_slots = _no_repeats(rng, slots, half_count)
    half = [(float(rng.uniform(0.006, 0.05)), s) for s in half_slots]
    sett = half + half[-2::-1]  # symmetric (mirrored) sett, as in a tartan
    return {"sett": sett, "twill": bool(rng.random() < 0.6)}, slots


def _draw_plaid(p: Params, n: int) -> Weights:
    widths = np.array([b[0] for b in p["sett"]], dtype=np.float64) * n
    sett_slots = np.array([b[1] for b in p["sett"]], dtype=np.int64)
    slots = int(sett_slots.max()) + 1
    edges = np.cumsum(widths)
    ax = np.arange(n, dtype=np.float64) + 0.5
    band = sett_slots[
        np.minimum(np.searchsorted(edges, np.mod(ax, edges[-1]), side="right"), len(widths) - 1)
    ]
    warp = _one_hot(np.broadcast_to(band[None, :], (n, n)), slots)
    weft = _one_hot(np.broadcast_to(band[:, None], (n, n)), slots)
    if not p["twill"]:
        return 0.5 * warp + 0.5 * weft  # overlapping semi-transparent bands
    # 2/2 twill at thread level: each thread shows warp or weft colour in a diagonal rhythm.
    thread = np.arange(n) // _SUPERSAMPLE
    show_warp = ((thread[None, :] + thread[:, None]) % 4 < 2).astype(np.float32)
    mix = 0.25 + 0.5 * show_warp  # keep some blend so the bands still read as translucent
    return (mix * warp + (1.0 - mix) * weft).astype(np.float32)


def _sample_polka(rng: np.random.Generator) -> tuple[Params, int]:
    spacing = float(rng.uniform(0.06, 0.16))
    params = {
        "spacing": spacing,
        "radius": spacing * float(rng.uniform(0.14, 0.32)),
        "staggered": bool(rng.random() < 0.5),
        "angle": float(rng.choice([0.0, 0.0, 45.0])),
        "small": 0.0,
    }
    slots = 2
    if rng.random() < 0.45:
        params["small"] = spacing * float(rng.uniform(0.06, 0.11))
        slots = 3
    return params, slots


def _draw_polka(p: Params, n: int) -> Weights:
    u, v = _rotated(n, p["angle"])
    sp = p["spacing"] * n
    gy = v / sp
    row = np.floor(gy)
    gx = u / sp - (0.5 * np.mod(row, 2) if p["staggered"] else 0.0)
    dx = (gx - np.floor(gx) - 0.5) * sp
    dy = (gy - row - 0.5) * sp
    labels = (np.hypot(dx, dy) < p["radius"] * n).astype(np.int64)
    if p["small"] > 0:
        ex, ey = (gx - np.round(gx)) * sp, (gy - np.round(gy)) * sp
        labels = np.where((np.hypot(ex, ey) < p["small"] * n) & (labels == 0), 2, labels)
    return _one_hot(labels, 3 if p["small"] > 0 else 2)


def _sample_herringbone(rng: np.random.Generator) -> tuple[Params, int]:
    params = {
        "column": float(rng.uniform(0.07, 0.14)),
        "period": float(rng.uniform(0.028, 0.05)),
        "duty": float(rng.uniform(0.4, 0.6)),
        "vertical": bool(rng.random() < 0.7),
        "separator": 0.0,
    }
    slots = 2
    if rng.random() < 0.35:
        params["separator"] = float(rng.uniform(0.004, 0.008))
        slots = 3
    return params, slots


def _draw_herringbone(p: Params, n: int) -> Weights:
    x, y = _axes(n)
    across, along = (x, y) if p["vertical"] else (y, x)
    cw = p["column"] * n
    col = np.floor(across / cw)
    local = across - col * cw
    direction = np.where(np.mod(col, 2) == 0, 1.0, -1.0)
    t = along + direction * local
    period = p["period"] * n
    labels = (np.mod(t, period) < p["duty"] * period).astype(np.int64)
    if p["separator"] > 0:
        labels = np.where(np.broadcast_to(local < p["separator"] * n, labels.shape), 2, labels)
    return _one_hot(labels, 3 if p["separator"] > 0 else 2)


def _sample_houndstooth(rng: np.random.Generator) -> tuple[Params, int]:
    params = {"thread": float(rng.uniform(0.007, 0.015)), "overcheck": 0}
    slots = 2
    if rng.random() < 0.35:
        params["overcheck"] = int(rng.integers(3, 6))  # Glen-style overcheck every few repeats
        slots = 3
    return params, slots


def _draw_houndstooth(p: Params, n: int) -> Weights:
    x, y = _axes(n)
    t = p["thread"] * n
    xi, yi = np.floor(x / t).astype(np.int64), np.floor(y / t).astype(np.int64)
    warp_dark = np.mod(xi, 8) < 4  # 4 dark, 4 light threads each way ...
    weft_dark = np.mod(yi, 8) < 4
    show_warp = np.mod(xi + yi, 4) < 2  # ... woven in a 2/2 twill gives the broken-check tooth
    labels = np.where(show_warp, warp_dark, weft_dark).astype(np.int64)
    if p["overcheck"]:
        rep = 8 * p["overcheck"]
        over = (np.mod(xi, rep) == rep - 2) | (np.mod(yi, rep) == rep - 2)
        labels = np.where(over & (labels == 0), 2, labels)
    return _one_hot(labels, 3 if p["overcheck"] else 2)


def _motif_grid(rng: np.random.Generator, per_side: int, jitter: float) -> list[tuple[float, float, float]]:
    """Half-drop grid positions (fractions of the side) with fixed jitter, one margin cell all round."""
    cell = 1.0 / per_side
    out = []
    for j in range(-1, per_side + 1):
        for i in range(-1, per_side + 1):
            drop = 0.5 * cell if i % 2 else 0.0
            jx, jy, r = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)
            out.append(
                (
                    (i + 0.5) * cell + jx * jitter * cell,
                    (j + 0.5) * cell + drop + jy * jitter * cell,
                    float(r),
                )
            )
    return out


def _sample_floral(rng: np.random.Generator) -> tuple[Params, int]:
    per_side = int(rng.integers(3, 6))
    cell = 1.0 / per_side
    params = {
        "petals": int(rng.integers(5, 9)),
        "petal_length": cell * float(rng.uniform(0.2, 0.3)),
        "petal_width": float(rng.uniform(0.35, 0.55)),
        "centre": float(rng.uniform(0.28, 0.42)),
        "leaves": bool(rng.random() < 0.7),
        "spin": float(rng.uniform(10, 40)),
        "sites": _motif_grid(rng, per_side, float(rng.uniform(0.04, 0.12))),
    }
    return params, 4


def _draw_floral(p: Params, n: int) -> Weights:
    leaves, petals, centres = (np.zeros((n, n), np.uint8) for _ in range(3))
    length = p["petal_length"] * n
    half_w = 0.5 * length * p["petal_width"]
    for cx, cy, r in p["sites"]:
        cx, cy, rot = cx * n, cy * n, r * p["spin"]
        if p["leaves"]:
            for k in (0.25, 0.75):
                a = math.radians(rot + 360.0 * k / p["petals"] + 90.0)
                reach = 1.05 * length
                _ellipse(
                    leaves,
                    cx + reach * math.cos(a),
                    cy + reach * math.sin(a),
                    0.75 * length,
                    0.25 * length,
                    math.degrees(a),
                )
        for k in range(p["petals"]):
            a = math.radians(rot + 360.0 * k / p["petals"])
            _ellipse(
                petals,
                cx + 0.55 * length * math.cos(a),
                cy + 0.55 * length * math.sin(a),
                0.55 * length,
                half_w,
                math.degrees(a),
            )
        _ellipse(centres, cx, cy, p["centre"] * length, p["centre"] * length, 0.0)
    return _composite([(3, leaves), (1, petals), (2, centres)], 4, n)


def _teardrop(
    fatness: float, bend: float, samples: int = 96
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unit paisley outline: round end at x=-1, tip at x=+1 curled sideways by `bend` radians."""
    t = np.linspace(0.0, 2.0 * math.pi, samples, endpoint=False)
    x = np.cos(t)
    y = 0.7 * np.sin(t) * np.abs(np.sin(t / 2.0)) ** fatness
    phi = bend * ((x + 1.0) / 2.0) ** 2
    return x * np.cos(phi) - y * np.sin(phi), x * np.sin(phi) + y * np.cos(phi)


def _sample_paisley(rng: np.random.Generator) -> tuple[Params, int]:
    per_side = int(rng.integers(2, 5))
    params = {
        "length": float(rng.uniform(0.55, 0.75)) / per_side,
        "fatness": float(rng.uniform(1.2, 2.2)),
        "bend": float(rng.uniform(0.6, 1.4)),
        "inner": float(rng.uniform(0.5, 0.65)),
        "base_angle": float(rng.uniform(0, 360)),
        "turn": float(rng.uniform(8, 30)),
        "filler": bool(rng.random() < 0.6),
        "cell": 1.0 / per_side,
        "sites": _motif_grid(rng, per_side, float(rng.uniform(0.03, 0.08))),
    }
    return params, 4


def _draw_paisley(p: Params, n: int) -> Weights:
    outer, inner, eyes, filler = (np.zeros((n, n), np.uint8) for _ in range(4))
    ox, oy = _teardrop(p["fatness"], p["bend"])
    anchor = -0.35
    ix, iy = anchor + (ox - anchor) * p["inner"], oy * p["inner"]
    half = 0.5 * p["length"] * n
    for k, (cx, cy, r) in enumerate(p["sites"]):
        cx, cy = cx * n, cy * n
        angle = math.radians(p["base_angle"] + (180.0 if k % 2 else 0.0) + r * p["turn"])
        c, s = math.cos(angle), math.sin(angle)

        def place(
            xs: NDArray[np.float64],
            ys: NDArray[np.float64],
            cx: float = cx,
            cy: float = cy,
            c: float = c,
            s: float = s,
        ) -> NDArray[np.int32]:
            return _poly_points(cx + half * (xs * c - ys * s), cy + half * (xs * s + ys * c))

        cv2.fillPoly(outer, [place(ox, oy)], 255, cv2.LINE_AA, _CV_SHIFT)
        cv2.fillPoly(inner, [place(ix, iy)], 255, cv2.LINE_AA, _CV_SHIFT)
        ex, ey = -0.5, 0.0
        _ellipse(
            eyes, cx + half * (ex * c - ey * s), cy + half * (ex * s + ey * c), 0.16 * half, 0.16 * half, 0.0
        )
        if p["filler"]:
            fx, fy = cx + 0.5 * p["cell"] * n, cy - 0.25 * p["cell"] * n
            _ellipse(filler, fx, fy, 0.07 * half, 0.07 * half, 0.0)
    return _composite([(3, filler), (1, outer), (2, inner), (3, eyes)], 4, n)


def _sample_argyle(rng: np.random.Generator) -> tuple[Params, int]:
    width = float(rng.uniform(0.12, 0.24))
    return {
        "width": width,
        "height": width * float(rng.uniform(1.3, 1.8)),
        "line": float(rng.uniform(0.004, 0.009)),
        "dashed": bool(rng.random() < 0.4),
    }, 4


def _draw_argyle(p: Params, n: int) -> Weights:
    x, y = _axes(n)
    nx, ny = x / (p["width"] * n), y / (p["height"] * n)
    fx, fy = nx - np.floor(nx), ny - np.floor(ny)
    inside = np.abs(fx - 0.5) + np.abs(fy - 0.5) <= 0.5
    labels = np.where(inside, np.where(np.mod(np.floor(nx), 2) == 0, 1, 2), 0)
    s1, s2 = nx + ny, nx - ny
    dist = np.minimum(np.abs(s1 - np.round(s1)), np.abs(s2 - np.round(s2))) * p["width"] * n / math.sqrt(2.0)
    lines = dist < 0.5 * p["line"] * n
    if p["dashed"]:
        lines &= np.mod(np.floor(ny * 8.0), 2) == 0
    return _one_hot(np.where(lines, 3, labels), 4)


def _sample_leopard(rng: np.random.Generator) -> tuple[Params, int]:
    per_side = int(rng.integers(5, 9))
    cell = 1.0 / per_side
    spots = []
    for cx, cy, _ in _motif_grid(rng, per_side, 0.3):
        spots.append(
            {
                "x": cx,
                "y": cy,
                "radius": cell * float(rng.uniform(0.22, 0.34)),
                "aspect": float(rng.uniform(0.65, 1.0)),
                "tilt": float(rng.uniform(0, math.pi)),
                "wobble": [
                    (float(rng.uniform(0, 0.12)), float(rng.uniform(0, 2 * math.pi))) for _ in range(3)
                ],
                "arcs": sorted(float(v) for v in rng.uniform(0, 1, size=2 * int(rng.integers(2, 4)))),
                "rim": float(rng.uniform(0.22, 0.38)),
            }
        )
    return {"spots": spots}, 3


def _draw_leopard(p: Params, n: int) -> Weights:
    fills, rims = np.zeros((n, n), np.uint8), np.zeros((n, n), np.uint8)
    samples = 72
    theta = np.linspace(0.0, 2.0 * math.pi, samples, endpoint=False)
    for s in p["spots"]:
        radius = np.full(samples, s["radius"] * n)
        for h, (amp, phase) in enumerate(s["wobble"], start=2):
            radius *= 1.0 + amp * np.cos(h * theta + phase)
        lx, ly = radius * np.cos(theta), radius * s["aspect"] * np.sin(theta)
        c, si = math.cos(s["tilt"]), math.sin(s["tilt"])
        xs, ys = s["x"] * n + lx * c - ly * si, s["y"] * n + lx * si + ly * c
        pts = _poly_points(xs, ys)
        cv2.fillPoly(fills, [pts], 255, cv2.LINE_AA, _CV_SHIFT)
        thickness = max(1, int(round(s["rim"] * s["radius"] * n)))
        cuts = s["arcs"]
        for a, b in zip(cuts[0::2], cuts[1::2], strict=True):
            i0, i1 = int(a * samples), max(int(b * samples), int(a * samples) + 2)
            seg = np.take(pts, np.arange(i0, i1 + 1) % samples, axis=0)
            cv2.polylines(rims, [seg], False, 255, thickness, cv2.LINE_AA, _CV_SHIFT)
    return _composite([(2, fills), (1, rims)], 3, n)


Sampler = Callable[[np.random.Generator], tuple[Params, int]]
Drawer = Callable[[Params, int], Weights]

FAMILIES: dict[str, tuple[Sampler, Drawer]] = {
    "stripes": (_sample_stripes, _draw_stripes),
    "checks": (_sample_checks, _draw_checks),
    "plaid": (_sample_plaid, _draw_plaid),
    "polka-dots": (_sample_polka, _draw_polka),
    "herringbone": (_sample_herringbone, _draw_herringbone),
    "houndstooth": (_sample_houndstooth, _draw_houndstooth),
    "floral": (_sample_floral, _draw_floral),
    "paisley": (_sample_paisley, _draw_paisley),
    "argyle": (_sample_argyle, _draw_argyle),
    "leopard": (_sample_leopard, _draw_leopard),
}


# ---------------------------------------------------------------------------------------------
# Designs, colourways, cloth texture
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Design:
    code: str
    family: str
    params: Params
    slots: int
    season: str
    quality: str
    palettes: tuple[str, ...]
    weave: str


def _plan_design(seed: int, index: int, colourways: int) -> _Design:
    """Everything about design `index`, from its own random stream (so it does not depend on `designs`)."""
    rng = np.random.default_rng((seed, index))
    names = list(FAMILIES)
    family = names[(index + seed) % len(names)]
    params, slots = FAMILIES[family][0](rng)
    palettes = tuple(str(v) for v in rng.choice(list(PALETTES), size=colourways, replace=False))
    return _Design(
        code=f"KM{10001 + index}",
        family=family,
        params=params,
        slots=slots,
        season=str(rng.choice(SEASONS)),
        quality=str(rng.choice(list(QUALITIES))),
        palettes=palettes,
        weave=str(rng.choice(["twill", "plain", "satin"])),
    )


def _geometry(design: _Design, size: int) -> Weights:
    n = size * _SUPERSAMPLE
    full = FAMILIES[design.family][1](design.params, n)
    small = np.stack([cv2.resize(w, (size, size), interpolation=cv2.INTER_AREA) for w in full])
    return (small / np.maximum(small.sum(axis=0, keepdims=True), 1e-6)).astype(np.float32)


def _palette_array(name: str, slots: int) -> NDArray[np.float32]:
    """The palette's colours for `slots` slots; short palettes are extended with blends of their own colours."""
    base = [np.array(c, dtype=np.float32) for c in PALETTES[name]]
    colours = base[:slots]
    while len(colours) < slots:
        if len(colours) == 2:
            colours.append(0.62 * base[0] + 0.38 * base[1])
        else:
            main = base[1]
            lum = 0.299 * main[0] + 0.587 * main[1] + 0.114 * main[2]
            target = np.zeros(3, np.float32) if lum > 90 else np.full(3, 255.0, np.float32)
            colours.append(0.5 * main + 0.5 * target)
    return np.stack(colours).astype(np.float32)


def _cloth_grain(seed: int, index: int, size: int, weave: str) -> NDArray[np.float32]:
    """Unit-scale fine texture shared by a design's colourways: uneven threads, weave, fibre noise, slubs."""
    rng = np.random.default_rng((seed, index, 1))
    x, y = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    if weave == "twill":
        structure = np.cos(2.0 * np.pi * (x + y) / 4.0)
    elif weave == "satin":
        structure = 0.6 * np.cos(2.0 * np.pi * (x + 2.0 * y) / 5.0)
    else:
        structure = np.cos(np.pi * x / 1.5) * np.cos(np.pi * y / 1.5)
    rows = rng.normal(0.0, 1.0, (size, 1)).astype(np.float32)
    cols = rng.normal(0.0, 1.0, (1, size)).astype(np.float32)
    fibre = rng.normal(0.0, 1.0, (size, size)).astype(np.float32)
    coarse = max(2, size // 24)
    slub = cv2.resize(
        rng.normal(0.0, 1.0, (coarse, coarse)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    return (0.45 * rows + 0.45 * cols + 0.35 * structure + 0.4 * fibre + 0.35 * slub).astype(np.float32)


def _colourise(
    weights: Weights, palette: NDArray[np.float32], grain: NDArray[np.float32]
) -> NDArray[np.uint8]:
    # Plain einsum (no BLAS): small matmuls through a threaded BLAS are slow on a busy machine.
    rgb = np.einsum("khw,kc->hwc", weights, palette, optimize=False)
    g = grain[..., None]
    # mostly multiplicative, a little additive so that dark cloth shows its grain too
    rgb = rgb * (1.0 + np.float32(0.045) * g) + np.float32(3.0) * g
    np.rint(rgb, out=rgb)
    return np.clip(rgb, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Names and files
# ---------------------------------------------------------------------------------------------


def normalise_season(code: str) -> str:
    """'AW22' -> '2022-AW'."""
    return f"20{code[2:]}-{code[:2]}"


def _file_name(season: str, quality: str, design: str, colourway: int, messy: int | None) -> str:
    """House convention `SEASON - QUALITY - DESIGN-COLOURWAY.jpg`, optionally in a real-world messy variant."""
    tail = f"{design}-{colourway}.jpg"
    if messy == 0:
        return f"{season[:2]}-{season[2:]} - {quality} - {tail}"  # AW-22
    if messy == 1:
        return f"{season[2:]} {season[:2]} - {quality} - {tail}"  # 22 AW
    if messy == 2:
        return f"{season}  -  {quality.replace(' ', '  ')} - {tail}"  # doubled spaces
    if messy == 3:
        return f"{season[:2]} {season[2:]} - {quality} - {tail}"  # AW 22
    return f"{season} - {quality} - {tail}"


def _jpeg_bytes(rgb: NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def _validate(designs: int, colourways: int, size: int, seed: int) -> None:
    if not 1 <= designs <= MAX_DESIGNS:
        raise ValueError(f"designs must be between 1 and {MAX_DESIGNS}, got {designs}")
    if not 1 <= colourways <= len(PALETTES):
        raise ValueError(f"colourways must be between 1 and {len(PALETTES)}, got {colourways}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")


def _write_bytes(data: bytes, fh: IO[bytes]) -> None:
    fh.write(data)


def generate_demo_catalogue(
    out_dir: Path,
    designs: int = 60,
    colourways: int = 4,
    size: int = 256,
    seed: int = 7,
    progress: bool = True,
) -> Path:
    """Write `designs` x `colourways` JPEGs and `image_metadata_map.json` into `out_dir`; return the map's path.

    Colourways of one design share its geometry exactly and differ only in palette; palettes are drawn
    from `PALETTES`, so different designs (and families) share them. Same arguments give identical bytes,
    and design i is the same whatever `designs` is.
    """
    _validate(designs, colourways, size, seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=designs * colourways, unit="img", desc="demo catalogue")
    metadata: dict[str, dict[str, Any]] = {}
    try:
        for index in range(designs):
            design = _plan_design(seed, index, colourways)
            weights = _geometry(design, size)
            grain = _cloth_grain(seed, index, size, design.weave)
            for cw, palette in enumerate(design.palettes, start=1):
                file_no = index * colourways + cw - 1
                messy = (file_no // 9) % 4 if file_no % 9 == 4 else None
                name = _file_name(design.season, design.quality, design.code, cw, messy)
                rgb = _colourise(weights, _palette_array(palette, design.slots), grain)
                atomic_write(out_dir / name, functools.partial(_write_bytes, _jpeg_bytes(rgb)), mode=0o644)
                metadata[name] = {
                    "design": design.code,
                    "season": normalise_season(design.season),
                    "quality": design.quality.title(),
                    "features": [[fibre, pct] for fibre, pct in QUALITIES[design.quality]],
                    "colourway": str(cw),
                    "pattern_family": design.family,
                    "palette": palette,
                }
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    meta_path = out_dir / METADATA_FILE
    text = (json.dumps(metadata, sort_keys=True, indent=1) + "\n").encode("utf-8")
    atomic_write(meta_path, functools.partial(_write_bytes, text), mode=0o644)
    return meta_path


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m swatch.demo", description=generate_demo_catalogue.__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--designs", type=int, default=60, help="number of designs (default 60)")
    parser.add_argument("--colourways", type=int, default=4, help="colourways per design (default 4)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 for bad arguments)."""
    prog = "swatch.demo"
    try:
        args = _build_parser().parse_args(argv)
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    try:
        meta = generate_demo_catalogue(
            args.out, args.designs, args.colourways, args.size, args.seed, progress=not args.no_progress
        )
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.designs * args.colourways} images and {meta}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
