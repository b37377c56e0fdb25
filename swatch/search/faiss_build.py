"""Build a FaissIndex for a feature snapshot; HNSW graphs and every index's info.json live under indexes/."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

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
#: a graph whose recall@100 at HNSW_EF_SEARCH is measured below this is searched wider: the smallest efSearch
#: of EF_STEPS that reaches it is saved in its sidecar (a million textile rows: 0.90 at 400)
RECALL_TARGET = 0.95
EF_STEPS = (HNSW_EF_SEARCH, 600, 800, 1200, 1600)
RECALL_QUERIES = 200
RECALL_K = 100
CHUNK = 8192
#: the saved graph's file name in its snapshot's index folder (info.json beside it is its sidecar)
GRAPH_FILE = "hnsw.faiss"
_GPU_RESOURCES: list[Any] = []


def index_dir(indexes_root: Path, fv: FeatureVersion) -> Path:
    """`<indexes>/<model>/<version>/<snapshot name>/`: one folder per immutable feature snapshot."""
    return indexes_root / fv.model / fv.version / fv.path.name


def approximate(n: int, d: int, exact_max_rows: int) -> bool:
    """Whether a version of n rows of d values gets an HNSW graph (saved at publish) rather than a scan."""
    return n > exact_max_rows and n * d > FLAT_MAX_VALUES


def build_index(
    fv: FeatureVersion, indexes_root: Path, exact_max_rows: int, use_gpu: bool | None = None
) -> FaissIndex:
    """A searchable index for `fv`: flat when small, int8 codes above, plus HNSW above `exact_max_rows`.

    The HNSW graph (over the int8 codes) is the one saved at publish (`prepare_index`), memory-mapped; when
    none was saved (old data) or the saved one is damaged, this process builds and saves it first.
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
    saved: dict[str, Any] | None = None
    if n * d <= FLAT_MAX_VALUES or n == 0:
        scanner: Any = _faiss.IndexFlatIP(d)
        _add_chunks(scanner, rows)
        info["kind"] = "flat"
    elif approximate(n, d, exact_max_rows):
        hnsw, saved = ensure_saved(fv, folder)
        scanner = _faiss.downcast_index(hnsw.storage)
        residual = float(saved["int8_max_residual"])
        info.update({k: saved[k] for k in ("kind", "params", "recall_at_k", "int8_max_residual", "rebuilt")
                     if k in saved})
        info.update(hnsw={**saved["params"], "reused": bool(saved.get("reused"))}, mapped=bool(saved.get("mapped")),
                    saved_build_seconds=saved.get("build_seconds"))
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
                        exact_max_rows=int(exact_max_rows), info=info,
                        ef_search=int((saved or {}).get("params", {}).get("ef_search", HNSW_EF_SEARCH)))
    if (fv.path / "features.npy").exists():  # a fresh map: only rows a search touches become resident
        index.rows = np.load(fv.path / "features.npy", mmap_mode="r")
    info["build_seconds"] = round(time.perf_counter() - started, 3)
    info["built"] = now_iso()
    if saved is None:  # the saved graph's info.json is its sidecar, written once by its builder
        _write_info(folder, info)
    return index


def prepare_index(fv: FeatureVersion, indexes_root: Path, exact_max_rows: int) -> dict[str, Any] | None:
    """At publish: build and save the HNSW graph of `fv` (unless a sound one is saved); its sidecar info, or
    None when the version is small enough to be scanned (nothing to save)."""
    if not approximate(int(fv.features.shape[0]), int(fv.features.shape[1]), exact_max_rows):
        return None
    return ensure_saved(fv, index_dir(indexes_root, fv))[1]


def ensure_saved(fv: FeatureVersion, folder: Path) -> tuple[Any, dict[str, Any]]:
    """The saved HNSW graph of `fv`, memory-mapped, and its sidecar; built and saved first when missing or
    damaged (one builder at a time per version: other processes wait for it and map its file)."""
    found, problem = load_saved(fv, folder)
    if found is not None:
        return found
    with _build_lock(folder.parent) as locked:
        if locked:
            found, problem = load_saved(fv, folder)  # built by another process while we waited
            if found is not None:
                return found
        if problem:
            log.warning("saved index %s is %s: rebuilding it, not serving it", folder / GRAPH_FILE, problem)
        graph, sidecar = _build_graph(fv, problem)
        if _save(graph, sidecar, folder):
            found, again = load_saved(fv, folder)
            if found is not None:
                return found[0], {**found[1], "reused": False}
            log.warning("index %s just saved is %s: serving it from memory", folder / GRAPH_FILE, again)
        return graph, sidecar


@contextmanager
def _build_lock(base: Path) -> Iterator[bool]:
    """An exclusive flock on `<indexes>/<model>/<version>/.build.lock` (False when it cannot be made: a
    read-only data dir, where each process builds in memory)."""
    try:
        base.mkdir(parents=True, exist_ok=True)
        fh = open(base / ".build.lock", "a+b")  # noqa: SIM115 - closed below, after the flock
    except OSError:
        yield False
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield True
    finally:
        fh.close()


def load_saved(fv: FeatureVersion, folder: Path) -> tuple[tuple[Any, dict[str, Any]] | None, str | None]:
    """(graph, sidecar) of a sound saved graph of `fv`, memory-mapped; else None and what is wrong with the
    saved one (None as well when there is none, or only one from before graphs had sidecars)."""
    try:
        sidecar = dict(json.loads((folder / "info.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None, None
    saved = sidecar.get("saved")
    if not isinstance(saved, dict) or sidecar.get("kind") != "hnsw+int8":
        return None, None
    n, d = int(fv.features.shape[0]), int(fv.features.shape[1])
    if sidecar.get("rows") != n or sidecar.get("dims") != d or sidecar.get("snapshot") != fv.path.name:
        return None, f"for other rows ({sidecar.get('rows')} x {sidecar.get('dims')}, not {n} x {d})"
    path = folder / GRAPH_FILE
    try:
        size = path.stat().st_size
        if size != saved.get("bytes"):
            return None, f"truncated ({size} bytes, {saved.get('bytes')} written)"
        if file_crc32(path) != saved.get("crc32"):
            return None, "corrupt (checksum mismatch)"
        graph = _faiss.read_index(str(path), _faiss.IO_FLAG_MMAP_IFC | _faiss.IO_FLAG_READ_ONLY)
    except FileNotFoundError:
        return None, "missing its graph file"
    except (OSError, RuntimeError) as exc:
        return None, f"unreadable ({str(exc).splitlines()[0][:120]})"
    if graph.ntotal != n or graph.d != code_width(d):
        return None, f"inconsistent ({graph.ntotal} rows of {graph.d})"
    return (graph, {**sidecar, "reused": True, "mapped": True}), None


def file_crc32(path: Path, chunk: int = 1 << 22) -> int:
    """CRC-32 of a file, streamed (what the sidecar records to catch a torn or damaged graph)."""
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            crc = zlib.crc32(block, crc)
    return crc


def _build_graph(fv: FeatureVersion, problem: str | None) -> tuple[Any, dict[str, Any]]:
    """An HNSW graph over the int8 codes of `fv`, with its measured residual and recall@100 (its sidecar)."""
    started = time.perf_counter()
    _faiss.omp_set_num_threads(os.cpu_count() or 1)  # this thread builds with every core
    rows = fv.features
    n, d = int(rows.shape[0]), int(rows.shape[1])
    log.info("building the HNSW graph of %s/%s (%d rows of %d)", fv.model, fv.version, n, d)
    graph = _faiss.IndexHNSWSQ(code_width(d), _faiss.ScalarQuantizer.QT_8bit_uniform, HNSW_M,
                               _faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.train(pad_columns(_sample(rows, 50_000), graph.d))
    _add_chunks(graph, rows)
    scanner = _faiss.downcast_index(graph.storage)
    residual = max_residual(scanner, rows)
    built_s = time.perf_counter() - started
    probe = FaissIndex(rows=rows, scanner=scanner, residual=residual, hnsw=graph, exact_max_rows=0,
                       ef_search=HNSW_EF_SEARCH)
    ef_search, recall = tune_ef(probe)
    sidecar: dict[str, Any] = {
        "kind": "hnsw+int8", "model": fv.model, "version": fv.version, "snapshot": fv.path.name,
        "rows": n, "dims": d, "code_width": int(graph.d),
        "params": {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": ef_search},
        "int8_max_residual": float(residual),  # exact: the certified search's error bound
        "recall_at_k": recall, "graph_seconds": round(built_s, 3),
        "build_seconds": round(time.perf_counter() - started, 3), "built": now_iso(), "pid": os.getpid(),
    }
    if problem:
        sidecar["rebuilt"] = problem
    return graph, sidecar


def _save(graph: Any, sidecar: dict[str, Any], folder: Path) -> bool:
    """Write the graph atomically (temp, fsync, rename), then its sidecar with the graph's size and CRC-32: the
    sidecar is the commit point (a graph without a matching one is rebuilt). False when it cannot be saved."""
    path = folder / GRAPH_FILE
    written = {"bytes": 0, "crc32": 0}

    def write(fh: Any) -> None:
        def put(data: bytes) -> int:
            written["bytes"] += len(data)
            written["crc32"] = zlib.crc32(data, written["crc32"])
            return int(fh.write(data))

        _faiss.write_index(graph, _faiss.PyCallbackIOWriter(put))

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fsync_dir(folder.parent)
        atomic_write(path, write)
        fsync_dir(folder)
        sidecar["saved"] = {"file": GRAPH_FILE, **written}
        write_json_atomic(folder / "info.json", sidecar)
        return True
    except (OSError, RuntimeError) as exc:  # a read-only data dir still serves, it just rebuilds next time
        log.warning("could not save %s: %s", path, exc)
        return False


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


def tune_ef(index: FaissIndex, target: float | None = None, queries: int = RECALL_QUERIES, k: int = RECALL_K,
            seed: int = 0) -> tuple[int, dict[str, Any]]:
    """The smallest efSearch of EF_STEPS whose recall@k (catalogue rows as queries, against the certified exact
    answer) reaches `target` (the largest when none does), and its recall; every step on the same queries."""
    target = RECALL_TARGET if target is None else target
    rng = np.random.default_rng(seed)
    picks = rng.choice(index.ntotal, size=min(queries, index.ntotal), replace=False)
    k = min(k, index.ntotal)
    truth = [index.search(index.vector(int(r)), k, force_exact=True).rows for r in picks]
    by_ef: dict[str, float] = {}
    for ef in EF_STEPS:
        index.ef_search = ef
        hits = sum(len(np.intersect1d(index.search(index.vector(int(r)), k).rows, t))
                   for r, t in zip(picks, truth, strict=True))
        by_ef[str(ef)] = round(hits / (len(picks) * k), 4) if len(picks) else 1.0
        if by_ef[str(ef)] >= target:
            break
    return ef, {"k": k, "queries": len(picks), "recall": by_ef[str(ef)], "target": target, "by_ef_search": by_ef}


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

    def prepare(self, fv: FeatureVersion) -> dict[str, Any] | None:
        return prepare_index(fv, self.indexes_root, self.exact_max_rows)
