"""Synthetic catalogues for tests and benchmarks: seeded feature rows, catalogue images, feature versions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.base import l2_normalise
from swatch.features.store import FeatureStore

SEASONS = ("2021-AW", "2022-SS", "2022-AW", "2023-SS", "2023-AW", "2024-SS")
RARE_SEASON = "2019-SS"  # given to `rare_fraction` of the rows: the benchmark's selective filter
QUALITIES = (
    "Dundee Suit", "Oscar Prestige", "Harris Tweed", "Lomond Flannel", "Cashmere Coat", "Linen Shirting",
)
FIBRES = ("WV", "PES", "CO", "LI", "CA", "EA")
SYNTHETIC_ROOT = "synthetic://"


# --- feature rows ---

def textile_rows(n: int, dim: int, designs: np.ndarray, seed: int = 0, rank: int = 64) -> np.ndarray:
    """Unit rows shaped like pooled CNN embeddings: non-negative, low-rank structure, colourways of a design
    close together; pairwise cosines average about 0.65 with a spread near real pattern features."""
    rng = np.random.default_rng(seed)
    mean = (1.0 + 0.5 * np.abs(rng.standard_normal(dim))).astype(np.float32)
    basis = rng.standard_normal((rank, dim)).astype(np.float32)
    basis *= (np.linspace(1.5, 0.2, rank, dtype=np.float32) / np.float32(np.sqrt(rank)))[:, None]
    centres = rng.standard_normal((int(designs.max()) + 1, rank)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 16384):
        stop = min(n, start + 16384)
        z = centres[designs[start:stop]] + 0.4 * rng.standard_normal((stop - start, rank)).astype(np.float32)
        noise = rng.standard_normal((stop - start, dim)).astype(np.float32)
        x = mean * (1.0 + 0.8 * (z @ basis)) + 0.25 * noise
        np.maximum(x, 0.0, out=x)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        out[start:stop] = x
    return out


def blobs(
    n: int, dim: int, centres: int, spread: float = 0.35, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """n float32 rows around `centres` random unit centres (Gaussian noise of norm about `spread`), and their
    labels."""
    rng = np.random.default_rng(seed)
    middle = l2_normalise(rng.standard_normal((centres, dim), dtype=np.float32))
    labels = rng.integers(0, centres, size=n)
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x *= np.float32(spread / np.sqrt(dim))
    x += middle[labels]
    return x, labels


# --- catalogue rows ---

@dataclass(frozen=True)
class SyntheticImage:
    """A catalogue image without a file (a catalog.images.DetachedImage); design None: no metadata row.

    `path` and `filename` may name the image's id as `{id}`: ids are allocated when the rows are inserted."""

    root: str
    path: str
    filename: str
    design: str | None = None
    colourway: str | None = None
    season: str | None = None
    quality: str | None = None
    composition: tuple[tuple[str, int], ...] = ()
    cluster: str | None = None


def add_images(settings: Settings, images: Sequence[SyntheticImage]) -> np.ndarray:
    """Insert `images` as catalogue rows with their metadata (Catalog.add_detached_images): the new ids."""
    return np.asarray(Catalog(settings.database).add_detached_images(images), dtype=np.int64)


def publish_rows(settings: Settings, model: str, version: str, rows: np.ndarray, ids: np.ndarray,
                 info: dict[str, Any] | None = None) -> None:
    """Publish `rows` (catalogue `ids` in row order) as feature version `model`/`version` and register it."""
    info = dict(info if info is not None else {"extractor": model, "kind": "synthetic"})
    FeatureStore(settings.features_dir).publish(model, version, rows, ids, info)
    Catalog(settings.database).register_model_version(model, version, {"kind": info.get("kind", "synthetic")})


# --- whole catalogues ---

def _metadata(n: int, rng: np.random.Generator, rare_fraction: float) -> dict[str, Any]:
    designs = np.arange(n) // 6  # six colourways per design
    season = rng.integers(0, len(SEASONS), n)
    rare = np.zeros(n, bool)
    rare[rng.choice(n, size=int(round(n * rare_fraction)), replace=False)] = True
    quality = rng.integers(0, len(QUALITIES), n)
    main = rng.integers(0, len(FIBRES), n)
    share = rng.choice([100, 80, 60, 55, 50, 40], n)
    second = (main + 1 + rng.integers(0, len(FIBRES) - 1, n)) % len(FIBRES)
    return {"designs": designs, "season": season, "rare": rare, "quality": quality, "main": main,
            "share": share, "second": second}


def _textile_image(k: int, meta: dict[str, Any]) -> SyntheticImage:
    """Row `k` of a textile catalogue: a file name in the catalogue's grammar and the metadata it encodes."""
    design = f"KM{10000 + int(meta['designs'][k]):05d}"
    season = RARE_SEASON if meta["rare"][k] else SEASONS[int(meta["season"][k])]
    quality = QUALITIES[int(meta["quality"][k])]
    colourway = str(k % 6 + 1)
    name = f"{season} - {quality.upper()} - {design}-{colourway}.jpg"
    comp: list[tuple[str, int]] = [(FIBRES[int(meta["main"][k])], int(meta["share"][k]))]
    if meta["share"][k] < 100:
        comp.append((FIBRES[int(meta["second"][k])], 100 - int(meta["share"][k])))
    return SyntheticImage(SYNTHETIC_ROOT + "catalogue", f"designs/{name}", name, design, colourway, season,
                          quality, tuple(comp), f"cluster_{k % 12}")


def synthetic_catalogue(
    settings: Settings, n: int, dims: dict[str, int], seed: int = 0, rare_fraction: float = 0.01,
    infos: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write `n` catalogue images with metadata, and a v1 feature version per model in `dims` (rows from
    textile_rows). Returns the ids, the metadata arrays and the feature rows per model."""
    rng = np.random.default_rng(seed)
    meta = _metadata(n, rng, rare_fraction)
    ids = add_images(settings, [_textile_image(k, meta) for k in range(n)])
    rows: dict[str, np.ndarray] = {}
    for offset, (model, dim) in enumerate(sorted(dims.items())):
        rows[model] = textile_rows(n, dim, meta["designs"], seed=seed + 1 + offset)
        publish_rows(settings, model, "v1", rows[model], ids, (infos or {}).get(model))
    return {"ids": ids, "meta": meta, "rows": rows}


def textile_catalogue_rows(n: int, seed: int = 0, rare_fraction: float = 0.01) -> list[tuple[Any, ...]]:
    """The textile catalogue's `n` images as the metadata snapshot's query returns them (ids 1..n, composition
    as JSON text), with a thumbnail name and a size as ingested images have; no database."""
    meta = _metadata(n, np.random.default_rng(seed), rare_fraction)
    out = []
    for k in range(n):
        im = _textile_image(k, meta)
        sha = f"{k + 1:064x}"
        out.append((k + 1, im.path, im.filename, f"{sha[:2]}/{sha}.jpg", 1200 + k % 7, 900 + k % 5, im.design,
                    im.colourway, im.season, im.quality, json.dumps([list(c) for c in im.composition]),
                    im.cluster))
    return out


def add_synthetic_version(
    settings: Settings, vectors: np.ndarray, model: str = "synthetic", version: str = "v1",
    designs: list[str] | None = None,
) -> list[int]:
    """Add one catalogue image per vector (no file behind it) and publish the rows as `model`/`version`.

    Returns the new image ids in row order. `designs` (one per row) fills the metadata's design code.
    """
    n = int(vectors.shape[0])
    if designs is not None and len(designs) != n:
        raise ValueError(f"{len(designs)} designs for {n} rows")
    images = [SyntheticImage(SYNTHETIC_ROOT + model, f"{model}/{{id}}.png", f"{model}-{{id}}.png",
                             designs[k] if designs is not None else None) for k in range(n)]
    ids = add_images(settings, images)
    publish_rows(settings, model, version, l2_normalise(vectors), ids)
    return [int(i) for i in ids]
