"""Pattern families: sample_<family>(rng) -> (params, slots); draw_<family>(params, n) -> weights.

All lengths in params are fractions of the canvas side, so a design looks the same at any size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
from numpy.typing import NDArray

from swatch.demo.canvas import (
    _CV_SHIFT,
    _SUPERSAMPLE,
    Params,
    Weights,
    _axes,
    _composite,
    _ellipse,
    _no_repeats,
    _one_hot,
    _poly_points,
    _rotated,
)


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

