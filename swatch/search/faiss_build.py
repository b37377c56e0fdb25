"""Build a FaissIndex for a feature snapshot; HNSW graphs and every index's info.json live under indexes/."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from swatch import versioning
from swatch.catalog.db import now_iso
from swatch.features.store import FeatureVersion
from swatch.fsutil import atomic_write, fsync_dir, write_json_atomic
from swatch.search.faiss_index import FaissIndex, code_width, pad_columns

log = logging.getLogger(__name__)
_faiss: Any = faiss  # the SWIG module's stubs miss several classes

#: below this many float32 values a plain IndexFlatIP scan is as fast as int8 codes, so keep it simple
FLAT_MAX_VALUES = 4_000_000
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128
RECALL_QUERIES = 200
RECALL_K = 100
CHUNK = 8192
_GPU_RESOURCES: list[Any] = []


def index_dir(indexes_root: Path, fv: FeatureVersion) -> Path:
    """`<indexes>/<model>/<version>/<snapshot name>/`: one folder per immutable feature snapshot."""
    return indexes_root / fv.model / fv.version / fv.path.name


def build_index(
    fv: FeatureVersion, indexes_root: Path, exact_max_rows: int, use_gpu: bool | None = None
) -> FaissIndex:
    """A searchable index for `fv`: flat when small, int8 codes above, plus HNSW above `exact_max_rows`.

    An HNSW graph is saved beside its info.json and reused while the snapshot stays the same.
    """
    started = time.perf_counter()
    _faiss.omp_set_num_threads(os.cpu_count() or 1)  # this thread builds with every core
    rows = fv.features
    n, d = (int(rows.shape[0]), int(rows.shape[1]))
    folder = index_dir(indexes_root, fv)
    info: dict[str, Any] = {
        "model": fv.model, "version": fv.version, "snapshot": fv.path.name, "count": n, "dim": d,
        "metric": "inner_product", "exact_max_rows": int(exact_max_rows),
    }
    hnsw = None
    residual = 0.0
    scale = None
    if n * d <= FLAT_MAX_VALUES or n == 0:
        scanner: Any = _faiss.IndexFlatIP(d)
        _add_chunks(scanner, rows)
        info["kind"] = "flat"
    else:
        if n > exact_max_rows:
            hnsw, scanner, reused = _hnsw(rows, folder)
            info.update(kind="hnsw+int8", hnsw={"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION,
                                                "ef_search": HNSW_EF_SEARCH, "reused": reused})
        else:
            sample = _sample(rows, 50_000)
            scale = column_scale(sample[-2], sample[-1])
            scanner = _faiss.IndexScalarQuantizer(code_width(d), _faiss.ScalarQuantizer.QT_8bit_uniform,
                                                  _faiss.METRIC_INNER_PRODUCT)
            scanner.train(pad_columns(sample * scale, scanner.d))
            _add_chunks(scanner, rows, scale)
            info["kind"] = "int8+rerank"
        residual = max_residual(scanner, rows, scale)
        info["int8_max_residual"] = round(residual, 6)
    gpu = _to_gpu(rows) if (use_gpu if use_gpu is not None else _faiss.get_num_gpus() > 0) else None
    info["device"] = "gpu" if gpu is not None else "cpu"
    index = FaissIndex(rows=rows, scanner=scanner, residual=residual, hnsw=hnsw, gpu=gpu,
                        query_scale=None if scale is None else (1.0 / scale).astype(np.float32),
                        exact_max_rows=int(exact_max_rows), ef_search=HNSW_EF_SEARCH, info=info)
    if hnsw is not None:
        info["recall_at_k"] = measure_recall(index)
    if (fv.path / "features.npy").exists():  # a fresh map: only rows a search touches become resident
        index.rows = np.load(fv.path / "features.npy", mmap_mode="r")
    info["build_seconds"] = round(time.perf_counter() - started, 3)
    info["built"] = now_iso()
    _write_info(folder, info)
    return index


def _add_chunks(index: Any, rows: np.ndarray, scale: np.ndarray | None = None) -> None:
    for start in range(0, rows.shape[0], CHUNK * 4):
        index.add(_coded(rows[start : start + CHUNK * 4], index.d, scale))


def _coded(block: np.ndarray, width: int, scale: np.ndarray | None) -> np.ndarray:
    """Rows as the int8 codes see them: times the column scale, zero-padded to the codes' width."""
    block = np.asarray(block, dtype=np.float32)
    return pad_columns(block if scale is None else block * scale, width)


def column_scale(lo: np.ndarray, hi: np.ndarray, most: float = 64.0) -> np.ndarray:
    """Per-column factors (1 to `most`) that stretch every column to about the widest column's range, so one
    uniform int8 grid fits all: a narrow column (pattern beside color) is quantised as finely as a wide one,
    which about halves the error bound of color+pattern codes at no cost to the scan."""
    span = np.maximum(np.asarray(hi, np.float64) - np.asarray(lo, np.float64), 0.0)
    top = float(span.max()) if len(span) else 0.0
    if top <= 0.0:
        return np.ones(len(span), np.float32)
    return (top / np.maximum(span, top / most)).astype(np.float32)


def _sample(rows: np.ndarray, count: int) -> np.ndarray:
    """Rows spread over the whole version, then two rows of column minima and maxima (the int8 range covers
    every value)."""
    n = rows.shape[0]
    picks = np.unique(np.linspace(0, n - 1, min(n, count)).astype(np.int64))
    sample = np.asarray(rows[picks], dtype=np.float32)
    lo = np.full(rows.shape[1], np.inf, np.float32)
    hi = np.full(rows.shape[1], -np.inf, np.float32)
    for start in range(0, n, CHUNK * 4):
        block = np.asarray(rows[start : start + CHUNK * 4])
        lo = np.minimum(lo, block.min(axis=0))
        hi = np.maximum(hi, block.max(axis=0))
    return np.vstack([sample, lo[None, :], hi[None, :]])


def max_residual(codes: Any, rows: np.ndarray, scale: np.ndarray | None = None) -> float:
    """The largest L2 distance between a (scaled) row and its int8 reconstruction: the certified-search error
    bound, in code space and over the row's own columns (a query is zero in the padding)."""
    worst = 0.0
    d = rows.shape[1]
    for start in range(0, rows.shape[0], CHUNK):
        block = _coded(rows[start : start + CHUNK], codes.d, scale)
        back = codes.sa_decode(codes.sa_encode(block))
        worst = max(worst, float(np.sqrt(((back[:, :d] - block[:, :d]) ** 2).sum(axis=1)).max()))
    return worst


def _hnsw(rows: np.ndarray, folder: Path) -> tuple[Any, Any, bool]:
    """An HNSW graph over int8 codes (read back from disk when this snapshot was indexed before)."""
    path = folder / "hnsw.faiss"
    d = code_width(rows.shape[1])
    if path.is_file():
        try:
            graph = _faiss.read_index(str(path))
            if graph.ntotal == rows.shape[0] and graph.d == d:
                return graph, _faiss.downcast_index(graph.storage), True
        except RuntimeError as exc:
            log.warning("ignoring unreadable %s: %s", path, exc)
    graph = _faiss.IndexHNSWSQ(d, _faiss.ScalarQuantizer.QT_8bit_uniform, HNSW_M, _faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.train(pad_columns(_sample(rows, 50_000), d))
    _add_chunks(graph, rows)
    _save_graph(graph, folder)
    return graph, _faiss.downcast_index(graph.storage), False


def _save_graph(graph: Any, folder: Path) -> None:
    """Publish `folder` with hnsw.faiss and an info.json sidecar (swatch.versioning); into a folder that an earlier
    build already published, the graph is written atomically beside its info.json."""
    path = folder / "hnsw.faiss"

    def write(fh: Any) -> None:
        _faiss.write_index(graph, _faiss.PyCallbackIOWriter(fh.write))

    try:
        if folder.exists():
            atomic_write(path, write)
            fsync_dir(folder)
            return
        info = {"snapshot": folder.name, "files": {"hnsw.faiss": f"HNSW over int8 codes, {graph.ntotal} rows"},
                "hnsw": {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION}, "built": now_iso()}
        with versioning.publish(folder.parent, info, folder.name) as tmp, open(tmp / path.name, "wb") as fh:
            write(fh)
    except (OSError, RuntimeError) as exc:  # a read-only data dir still serves, it just rebuilds next time
        log.warning("could not save %s: %s", path, exc)


def measure_recall(
    index: FaissIndex, queries: int = RECALL_QUERIES, k: int = RECALL_K, seed: int = 0
) -> dict:
    """recall@k of the approximate path against the certified exact path, for catalogue rows as queries."""
    rng = np.random.default_rng(seed)
    n = index.ntotal
    picks = rng.choice(n, size=min(queries, n), replace=False)
    k = min(k, n)
    hits = 0
    for row in picks:
        q = np.asarray(index.rows[int(row)], dtype=np.float32)
        approx = index.search(q, k)
        truth = index.search(q, k, force_exact=True)
        hits += len(np.intersect1d(approx.rows, truth.rows))
    return {"k": k, "queries": len(picks), "recall": round(hits / (len(picks) * k), 4) if len(picks) else 1.0}


def _to_gpu(rows: np.ndarray) -> Any:
    """A GPU flat copy for unfiltered exact searches (None when the Faiss build has no GPU support)."""
    try:
        flat = _faiss.IndexFlatIP(rows.shape[1])
        _add_chunks(flat, rows)
        resources = _faiss.StandardGpuResources()
        _GPU_RESOURCES.append(resources)  # must outlive every index placed with it
        return _faiss.index_cpu_to_gpu(resources, 0, flat)
    except (AttributeError, RuntimeError) as exc:
        log.warning("GPU index unavailable, staying on the CPU: %s", exc)
        return None


def _write_info(folder: Path, info: dict[str, Any]) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / "info.json", info)
    except OSError as exc:
        log.warning("could not write %s/info.json: %s", folder, exc)


def read_info(indexes_root: Path, model: str, version: str) -> dict[str, Any] | None:
    """The newest index info.json for a model version, if any was written."""
    base = indexes_root / model / version
    if not base.is_dir():
        return None
    found = sorted(base.glob("*/info.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in found:
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return None


def prune(indexes_root: Path, model: str, version: str, keep: set[str]) -> None:
    """Remove index folders of snapshots other than `keep` (the ones still being served)."""
    base = indexes_root / model / version
    if not base.is_dir():
        return
    for folder in base.iterdir():
        if folder.is_dir() and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


class FaissBackend:
    """The VectorBackend of Faiss indexes under `indexes_root` (exact up to `exact_max_rows`, HNSW above)."""

    def __init__(self, indexes_root: Path, exact_max_rows: int):
        self.indexes_root = Path(indexes_root)
        self.exact_max_rows = int(exact_max_rows)

    def build(self, fv: FeatureVersion) -> FaissIndex:
        return build_index(fv, self.indexes_root, self.exact_max_rows)

    def stored_info(self, model: str, version: str) -> dict[str, Any] | None:
        return read_info(self.indexes_root, model, version)

    def prune(self, model: str, version: str, keep: set[str]) -> None:
        prune(self.indexes_root, model, version, keep)
