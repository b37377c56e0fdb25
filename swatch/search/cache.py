"""Per-process cache of loaded indexes, one per (model, version), swapped when its snapshot changes."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from swatch.catalog.snapshot import MetadataSource
from swatch.config import Settings
from swatch.features.store import FeatureStore, FeatureStoreError, FeatureVersion, register_preparer
from swatch.metrics import INDEX_BUILD_SECONDS
from swatch.search.faiss_build import FaissBackend
from swatch.search.vectors import VectorBackend, VectorIndex

log = logging.getLogger(__name__)


@dataclass
class LoadedIndex:
    """A built index with the catalogue ids of its rows and the feature version's info."""

    model: str
    version: str
    snapshot: str  # what the version link pointed at when loading began
    folder: str  # the snapshot folder the rows came from (names the index folder)
    index: VectorIndex
    ids: np.ndarray
    feature_info: dict[str, Any]
    _sorted: np.ndarray = field(init=False, repr=False)
    _order: np.ndarray = field(init=False, repr=False)
    _meta: tuple[int, np.ndarray] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]

    def row_of(self, image_id: int) -> int | None:
        """The row holding `image_id`, or None when this version has no features for it."""
        pos = int(np.searchsorted(self._sorted, image_id))
        if pos < len(self._sorted) and int(self._sorted[pos]) == int(image_id):
            return int(self._order[pos])
        return None

    def positions_in(self, table_ids: np.ndarray, generation: int) -> np.ndarray:
        """For each row, its position in a sorted id table (-1 when absent), cached per table generation."""
        cached = self._meta
        if cached is not None and cached[0] == generation:
            return cached[1]
        pos = np.searchsorted(table_ids, self.ids)
        pos = np.minimum(pos, max(len(table_ids) - 1, 0))
        hit = (table_ids[pos] == self.ids) if len(table_ids) else np.zeros(len(self.ids), bool)
        mapping = np.where(hit, pos, -1).astype(np.int64)
        self._meta = (generation, mapping)
        return mapping


class IndexCache:
    """Loads each (model, version) once, shares it across threads, rebuilds when a new snapshot is published.

    The snapshot is the target of the version's symlink, read with one readlink per lookup. While a new
    snapshot is being indexed, other threads keep searching the previous one; only a first load waits.
    Indexes come from `backend` (Faiss indexes under `indexes_root` unless another is given).
    """

    def __init__(
        self, features_root: Path, indexes_root: Path, exact_max_rows: int,
        backend: VectorBackend | None = None,
    ):
        self.store = FeatureStore(features_root)
        self.backend: VectorBackend = backend or FaissBackend(indexes_root, exact_max_rows)
        self._entries: dict[tuple[str, str], LoadedIndex] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def snapshot_of(self, model: str, version: str) -> str | None:
        """The current snapshot name of a version (None when it does not exist)."""
        link = self.store.version_path(model, version)
        try:
            return os.readlink(link)
        except FileNotFoundError:
            return None
        except OSError:  # a plain folder: its info.json's change time stands in for a snapshot name
            try:
                return f"{link.name}@{(link / 'info.json').stat().st_mtime_ns}"
            except OSError:
                return None

    def peek(self, model: str, version: str) -> LoadedIndex | None:
        return self._entries.get((model, version))

    def get(self, model: str, version: str) -> LoadedIndex:
        """The index of the current snapshot (or, while it is being built, the previous one)."""
        key = (model, version)
        snap = self.snapshot_of(model, version)
        if snap is None:
            raise FeatureStoreError(f"no feature version {model}/{version}")
        entry = self._entries.get(key)
        if entry is not None and entry.snapshot == snap:
            return entry
        lock = self._lock_for(key)
        if entry is not None and not lock.acquire(blocking=False):
            return entry  # someone is indexing the new snapshot; serve the old one meanwhile
        if entry is None:
            lock.acquire()
        try:
            entry = self._entries.get(key)
            snap = self.snapshot_of(model, version) or snap
            if entry is not None and entry.snapshot == snap:
                return entry
            fresh = self._load(model, version, snap)
            self._entries[key] = fresh
            keep = {fresh.folder} | ({entry.folder} if entry is not None else set())
            keep |= {p.name for p in (self.store.root / model).glob(".snap-*")}  # one a publisher is preparing
            self.backend.prune(model, version, keep)
            return fresh
        finally:
            lock.release()

    def prepare(self, model: str, version: str) -> dict[str, Any] | None:
        """At publish (CLI or worker process): have the backend build and save the index of the version's
        current snapshot, so that server processes load it instead of building it; None when nothing is saved
        (a small version, or a backend without `prepare`)."""
        prepare = getattr(self.backend, "prepare", None)
        if prepare is None:
            return None
        fv = self.store.load(model, version)
        started = time.perf_counter()
        info = prepare(fv)
        if info is not None and not info.get("reused"):
            INDEX_BUILD_SECONDS.labels(model=model, kind=str(info.get("kind", ""))).observe(
                time.perf_counter() - started)
        return dict(info) if info is not None else None

    def loaded(self) -> list[LoadedIndex]:
        return list(self._entries.values())

    def _lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _load(self, model: str, version: str, snap: str) -> LoadedIndex:
        fv = self.store.load(model, version)
        log.info("indexing %s/%s (%d rows)", model, version, len(fv))
        started = time.perf_counter()
        index = self.backend.build(fv)
        INDEX_BUILD_SECONDS.labels(model=model, kind=str(index.info.get("kind", ""))).observe(
            time.perf_counter() - started)
        ids = np.asarray(fv.ids, dtype=np.int64)
        return LoadedIndex(model, version, snap, fv.path.name, index, ids, dict(fv.info))


def prepare_published(
    features_root: Path, indexes_root: Path, exact_max_rows: int, versions: list[str],
    backend: VectorBackend | None = None,
) -> dict[str, dict[str, Any]]:
    """Build and save the indexes of just-published versions ("model/vN" each) in `backend` (Faiss unless
    given: publish_backend); what each recorded."""
    cache = IndexCache(features_root, indexes_root, exact_max_rows, backend=backend)
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(versions):
        model, _, version = name.partition("/")
        info = cache.prepare(model, version)
        if info is not None:
            out[name] = {k: info[k] for k in ("kind", "rows", "dims", "build_seconds", "recall_at_k", "reused")
                         if k in info}
    return out


def prepare_on_publish(features_root: Path, indexes_root: Path, exact_max_rows: int,
                       backend: VectorBackend | None = None) -> None:
    """From now on in this process, every feature version published under `features_root` has its index built and
    saved before the version's link switches to the new snapshot: no server sees it without its saved index
    (`backend`: Faiss unless given, see publish_backend)."""
    chosen: Any = backend or FaissBackend(indexes_root, exact_max_rows)

    def prepare(fv: FeatureVersion) -> None:
        started = time.perf_counter()
        info = chosen.prepare(fv) if hasattr(chosen, "prepare") else None
        if info is not None and not info.get("reused"):
            INDEX_BUILD_SECONDS.labels(model=fv.model, kind=str(info.get("kind", ""))).observe(
                time.perf_counter() - started)

    register_preparer(features_root, prepare)


def publish_backend(settings: Settings) -> VectorBackend | None:
    """The back end a publishing process (`swatch ingest`) prepares indexes in: Milvus when SWATCH_MILVUS_URI is
    set to a server (the collection filled, indexed and loaded at publish), else None (Faiss; a milvus-lite `.db`
    file belongs to the one server process that opens it, which loads the version at warm-up instead)."""
    if not settings.milvus_uri or settings.milvus_uri.endswith(".db"):
        return None
    from swatch.catalog.db import Catalog

    return vector_backend(settings, MetadataSource(Catalog(settings.database), interval=0.0))


def vector_backend(settings: Settings, metadata: MetadataSource) -> VectorBackend | None:
    """The back end SWATCH_MILVUS_URI names (Milvus; filters evaluated inside it), else None: Faiss."""
    if not settings.milvus_uri:
        return None
    from swatch.search.milvus_backend import MilvusBackend

    return MilvusBackend(settings.milvus_uri, settings.data_dir / "indexes", settings.exact_index_max_rows,
                         metadata, timeout=float(settings.milvus_timeout_s))
