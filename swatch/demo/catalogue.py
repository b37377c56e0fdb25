"""Designs, colourways and cloth texture drawn into JPEG files with their metadata map."""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from swatch.demo.canvas import _SUPERSAMPLE, Params, Weights
from swatch.demo.families import FAMILIES
from swatch.demo.vocabulary import PALETTES, QUALITIES, SEASONS
from swatch.fsutil import atomic_write

METADATA_FILE = "image_metadata_map.json"
JPEG_QUALITY = 90
MIN_SIZE = 32
MAX_SIZE = 4096
MAX_DESIGNS = 89_999  # design codes are KM10001 .. KM99999




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

