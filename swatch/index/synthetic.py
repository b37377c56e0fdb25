"""Synthetic textile catalogues (metadata rows plus feature versions) for search tests and latency benchmarks."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog, now_iso
from swatch.config import Settings
from swatch.features.store import FeatureStore

SEASONS = ("2021-AW", "2022-SS", "2022-AW", "2023-SS", "2023-AW", "2024-SS")
RARE_SEASON = "2019-SS"  # given to `rare_fraction` of the rows: the benchmark's selective filter
QUALITIES = ("Dundee Suit", "Oscar Prestige", "Harris Tweed", "Lomond Flannel", "Cashmere Coat", "Linen Shirting")
FIBRES = ("WV", "PES", "CO", "LI", "CA", "EA")


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
        x = mean * (1.0 + 0.8 * (z @ basis)) + 0.25 * rng.standard_normal((stop - start, dim)).astype(np.float32)
        np.maximum(x, 0.0, out=x)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        out[start:stop] = x
    return out


def _metadata(n: int, rng: np.random.Generator, rare_fraction: float) -> dict[str, Any]:
    designs = np.arange(n) // 6  # six colourways per design
    season = rng.integers(0, len(SEASONS), n)
    rare = np.zeros(n, bool)
    rare[rng.choice(n, size=int(round(n * rare_fraction)), replace=False)] = True
    quality = rng.integers(0, len(QUALITIES), n)
    main = rng.integers(0, len(FIBRES), n)
    share = rng.choice([100, 80, 60, 55, 50, 40], n)
    second = (main + 1 + rng.integers(0, len(FIBRES) - 1, n)) % len(FIBRES)
    return {"designs": designs, "season": season, "rare": rare, "quality": quality, "main": main, "share": share,
            "second": second}


def synthetic_catalogue(
    settings: Settings, n: int, dims: dict[str, int], seed: int = 0, rare_fraction: float = 0.01,
    infos: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write `n` catalogue images with metadata, and a v1 feature version per model in `dims` (rows from
    textile_rows). Returns the ids, the metadata arrays and the feature rows per model."""
    rng = np.random.default_rng(seed)
    meta = _metadata(n, rng, rare_fraction)
    catalog = Catalog(settings.db_path)
    stamp = now_iso()
    images: list[tuple] = []
    metadata: list[tuple] = []
    composition: list[tuple[int, str, float]] = []
    with catalog.transaction() as tx:
        first = int(tx.execute("SELECT COALESCE(MAX(id), 0) FROM images").fetchone()[0]) + 1
        ids = np.arange(first, first + n, dtype=np.int64)
        for k in range(n):
            design = f"KM{10000 + int(meta['designs'][k]):05d}"
            season = RARE_SEASON if meta["rare"][k] else SEASONS[int(meta["season"][k])]
            quality = QUALITIES[int(meta["quality"][k])]
            colourway = str(k % 6 + 1)
            name = f"{season} - {quality.upper()} - {design}-{colourway}.jpg"
            comp: list[tuple[str, int]] = [(FIBRES[int(meta["main"][k])], int(meta["share"][k]))]
            if meta["share"][k] < 100:
                comp.append((FIBRES[int(meta["second"][k])], 100 - int(meta["share"][k])))
            image_id = int(ids[k])
            images.append((image_id, "synthetic://catalogue", f"designs/{name}", name, f"{image_id:064x}", stamp))
            metadata.append((image_id, design, colourway, season, quality, json.dumps(comp), f"cluster_{k % 12}"))
            composition.extend((image_id, f, float(p)) for f, p in comp)
        tx.executemany("INSERT INTO images(id, root, path, filename, sha256, size_bytes, added_at, updated_at)"
                       " VALUES (?,?,?,?,?,0,?,?)", [(*r, stamp) for r in images])
        tx.executemany("INSERT INTO metadata(image_id, design, colourway, season, quality, composition, cluster)"
                       " VALUES (?,?,?,?,?,?,?)", metadata)
        tx.executemany("INSERT INTO composition(image_id, fiber, pct) VALUES (?,?,?)", composition)
    store = FeatureStore(settings.features_dir)
    rows: dict[str, np.ndarray] = {}
    for offset, (model, dim) in enumerate(sorted(dims.items())):
        rows[model] = textile_rows(n, dim, meta["designs"], seed=seed + 1 + offset)
        info = dict((infos or {}).get(model, {"extractor": model, "kind": "synthetic"}))
        store.publish(model, "v1", rows[model], ids, info)
        catalog.register_model_version(model, "v1", {"kind": info.get("kind", "synthetic")})
    return {"ids": ids, "meta": meta, "rows": rows}
