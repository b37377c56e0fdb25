"""Synthetic catalogues for benchmarks and tests: Gaussian blobs as catalogue rows plus a published feature version."""

from __future__ import annotations

import numpy as np

from swatch.catalog.db import Catalog, now_iso
from swatch.config import Settings
from swatch.features.base import l2_normalise
from swatch.features.store import FeatureStore

SYNTHETIC_ROOT = "synthetic://"


def blobs(n: int, dim: int, centres: int, spread: float = 0.35, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n float32 rows around `centres` random unit centres (Gaussian noise of norm about `spread`), and their labels."""
    rng = np.random.default_rng(seed)
    middle = l2_normalise(rng.standard_normal((centres, dim), dtype=np.float32))
    labels = rng.integers(0, centres, size=n)
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x *= np.float32(spread / np.sqrt(dim))
    x += middle[labels]
    return x, labels


def add_synthetic_version(
    settings: Settings, vectors: np.ndarray, model: str = "synthetic", version: str = "v1",
    designs: list[str] | None = None,
) -> list[int]:
    """Add one catalogue image per vector (no file behind it) and publish the rows as `model`/`version`.

    Returns the new image ids in row order. `designs` (one per row) fills the metadata's design code.
    """
    catalog = Catalog(settings.db_path)
    n = int(vectors.shape[0])
    stamp = now_iso()
    with catalog.transaction() as tx:
        first = int(tx.execute("SELECT COALESCE(MAX(id), 0) FROM images").fetchone()[0]) + 1
        ids = list(range(first, first + n))
        tx.executemany(
            "INSERT INTO images(id, root, path, filename, sha256, size_bytes, added_at, updated_at)"
            " VALUES (?,?,?,?,?,0,?,?)",
            ((i, SYNTHETIC_ROOT + model, f"{model}/{i}.png", f"{model}-{i}.png", f"{i:064x}", stamp, stamp)
             for i in ids),
        )
        if designs is not None:
            tx.executemany("INSERT INTO metadata(image_id, design) VALUES (?,?)", zip(ids, designs, strict=True))
    FeatureStore(settings.features_dir).publish(model, version, l2_normalise(vectors), ids,
                                                {"extractor": model, "kind": "synthetic"})
    catalog.register_model_version(model, version, {"kind": "synthetic"})
    return ids
