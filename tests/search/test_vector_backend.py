"""The VectorIndex interface: the index cache reaches vectors only through its backend, Faiss or any other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from swatch.features.store import FeatureStore, FeatureVersion
from swatch.search.cache import IndexCache
from swatch.search.faiss_build import FaissBackend
from swatch.search.vectors import Hits
from swatch.testing.synthetic import textile_rows


class NumpyIndex:
    """A brute-force VectorIndex over rows held in memory."""

    def __init__(self, rows: np.ndarray):
        self.rows = np.asarray(rows, dtype=np.float32)
        self.info: dict[str, Any] = {"kind": "numpy"}

    @property
    def ntotal(self) -> int:
        return int(self.rows.shape[0])

    def vector(self, row: int) -> np.ndarray:
        return self.rows[row]

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Hits:
        scores = self.rows @ np.asarray(query, dtype=np.float32)
        rows = np.arange(self.ntotal) if allowed is None else np.flatnonzero(allowed)
        order = rows[np.lexsort((rows, -scores[rows]))][:k]
        return Hits(order.astype(np.int64), scores[order], True)


class NumpyBackend:
    def __init__(self) -> None:
        self.built: list[str] = []
        self.pruned: list[set[str]] = []

    def build(self, fv: FeatureVersion) -> NumpyIndex:
        self.built.append(fv.path.name)
        return NumpyIndex(np.asarray(fv.features))

    def stored_info(self, model: str, version: str) -> dict[str, Any] | None:
        return None

    def prune(self, model: str, version: str, keep: set[str]) -> None:
        self.pruned.append(keep)


def test_the_cache_builds_and_swaps_snapshots_through_its_backend(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "image_features")
    first = textile_rows(120, 24, np.arange(120) // 4, seed=1)
    store.publish("pattern", "v1", first, np.arange(1, 121), {})
    backend = NumpyBackend()
    cache = IndexCache(tmp_path / "image_features", tmp_path / "indexes", 100_000, backend=backend)
    a = cache.get("pattern", "v1")
    assert isinstance(a.index, NumpyIndex) and a.index.ntotal == 120 and cache.get("pattern", "v1") is a
    hits = a.index.search(a.index.vector(7), 3, np.arange(120) % 2 == 1)
    assert hits.exact and hits.rows[0] == 7 and all(r % 2 == 1 for r in hits.rows)
    store.publish("pattern", "v1", textile_rows(80, 24, np.arange(80) // 4, seed=2), np.arange(500, 580), {})
    b = cache.get("pattern", "v1")
    assert b is not a and b.index.ntotal == 80 and backend.built == [a.folder, b.folder]
    assert backend.pruned[-1] == {a.folder, b.folder}
    assert not (tmp_path / "indexes").exists()  # nothing of Faiss was written


def test_faiss_backend_records_what_it_built(tmp_path: Path) -> None:
    rows = textile_rows(200, 32, np.arange(200) // 4, seed=3)
    fv = FeatureStore(tmp_path / "f").publish("color", "v1", rows, np.arange(200), {})
    backend = FaissBackend(tmp_path / "indexes", exact_max_rows=100_000)
    assert backend.stored_info("color", "v1") is None
    index = backend.build(fv)
    assert index.ntotal == 200 and list(index.search(index.vector(4), 1).rows) == [4]
    assert backend.stored_info("color", "v1")["kind"] == "flat"
    backend.prune("color", "v1", keep=set())
    assert backend.stored_info("color", "v1") is None
