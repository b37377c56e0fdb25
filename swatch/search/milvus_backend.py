"""The Milvus VectorBackend: one collection per (model, version) snapshot, filters evaluated inside Milvus."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from swatch.catalog.db import now_iso
from swatch.catalog.snapshot import MetadataSource
from swatch.features.store import FeatureVersion
from swatch.fsutil import write_json_atomic
from swatch.search.errors import VectorBackendUnavailable
from swatch.search.filters import FilterSpec
from swatch.search.milvus_client import MilvusError, connect, masked
from swatch.search.milvus_expr import expression
from swatch.search.milvus_fields import RowFields, cluster_column, row_fields
from swatch.search.vectors import FilteredHits, Hits

log = logging.getLogger(__name__)

PREFIX = "swatch_"
INSERT_BATCH = 4096
#: floats in one insert call: milvus-lite's insert slows down sharply with the message size (2,500 rows of 1,712
#: dims: 118 s in batches of 4,096 rows, 3 s in batches of 256; 20,000 x 256: 11.6 s at 4,096, 5.1 s at 1,024)
INSERT_FLOATS = 262_144
MAX_LIMIT = 16_384  # Milvus' largest topk
HNSW = {"M": 16, "efConstruction": 40}
RECALL_QUERIES = 100
RECALL_K = 100
#: why milvus-lite gets FLAT above the exact threshold: it has no HNSW, and its IVF_FLAT is the interim index of
#: its one growing segment, searched with fixed server-side probes whatever nprobe is asked (recall@100 0.51-0.57
#: at 200,000 rows for every nprobe from 1 to nlist; docs/milvus.md)
NO_HNSW = ("the server has no HNSW (milvus-lite); its IVF_FLAT ignores nprobe (recall@100 about 0.5 at 200,000 "
           "rows), so the exact FLAT search is used")
UNAVAILABLE = "vector search unavailable: the Milvus vector store is not answering; retry shortly"


def collection_name(model: str, version: str, snapshot: str) -> str:
    """A safe, unique collection name: letters, digits, underscores (the snapshot as a short hash)."""
    slug = re.sub(r"[^a-z0-9]", "_", model.lower())
    digest = hashlib.sha1(f"{model}\n{version}\n{snapshot}".encode()).hexdigest()[:12]
    return f"{PREFIX}{slug}_{version}_{digest}"


def _top(rows: np.ndarray, scores: np.ndarray, k: int, exact: bool) -> Hits:
    order = np.lexsort((rows, -scores))[:k]
    return Hits(rows[order], scores[order], exact)


class MilvusIndex:
    """A VectorIndex over one Milvus collection; `search_filtered` sends the filters as its expression."""

    filters_inside = True

    def __init__(self, backend: MilvusBackend, fv: FeatureVersion, name: str, fields: RowFields,
                 clusters: dict[str, np.ndarray], info: dict[str, Any]):
        self.backend = backend
        self.fv = fv
        self.rows = fv.features
        self.ids = np.asarray(fv.ids, np.int64)
        self.name = name
        self.fields = fields
        self.clusters = clusters
        self.cluster_sources: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.generation = -1
        self.info = info
        self._sync_lock = threading.Lock()
        self._repair_lock = threading.Lock()

    @property
    def ntotal(self) -> int:
        return int(self.rows.shape[0])

    def vector(self, row: int) -> np.ndarray:
        return np.asarray(self.rows[row], dtype=np.float32)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Hits:
        """Top k among `allowed` rows (a mask): in Milvus without one, else exactly over the allowed rows."""
        q = np.asarray(query, np.float32).reshape(-1)
        if allowed is not None:
            cand = np.flatnonzero(allowed)
            return _top(cand, self._scores(q, cand), k, True)
        return self._search(q, k, "", self.ntotal)

    def search_filtered(self, query: np.ndarray, k: int, spec: FilterSpec) -> FilteredHits:
        """Top k rows passing `spec` (live, filters, rows left out) with the count of such rows; the filters
        are one Milvus expression evaluated inside the search."""
        self.sync(spec)
        expr = expression(spec.filters, self.fields.fibre_names, spec.exclude)
        if spec.filters.empty and bool(self.fields.live.all()):
            total = self.ntotal - len(set(spec.exclude))
            expr = expr if spec.exclude else ""  # every row passes: no expression at all
        else:
            total = self._call(lambda c: c.query(self.name, filter=expr, output_fields=["count(*)"]))
            total = int(total[0]["count(*)"])
        q = np.asarray(query, np.float32).reshape(-1)
        return FilteredHits(self._search(q, k, expr, total), total)

    # -- keeping the scalar fields in step with the catalogue --
    def sync(self, spec: FilterSpec) -> None:
        """Upsert the rows whose metadata or (filtered-on) cluster changed since the last sync."""
        table, version = spec.table, spec.filters.cluster.version if spec.filters.cluster else None
        source = spec.cluster_labels(version) if version else None
        fresh_meta = table.generation != self.generation
        fresh_cluster = version is not None and self.cluster_sources.get(version) is not source
        if not (fresh_meta or fresh_cluster):
            return
        with self._sync_lock:
            clusters = dict(self.clusters)
            if version is not None and source is not None:
                clusters[version] = cluster_column(self.ids, source)
            new = row_fields(self.ids, table, spec.positions, clusters)
            changed = new.changed(self.fields)
            if len(changed):
                log.info("milvus %s: updating the fields of %d rows", self.name, len(changed))
                self._call(lambda c: self.backend.insert(c, self.name, new, self.rows, changed, upsert=True))
            self.fields, self.clusters, self.generation = new, clusters, table.generation
            if version is not None and source is not None:
                self.cluster_sources[version] = source

    # -- helpers --
    def _scores(self, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, np.float32)
        return np.einsum("ij,j->i", np.asarray(self.rows[rows], np.float32), q).astype(np.float32)

    def _search(self, q: np.ndarray, k: int, expr: str, count: int) -> Hits:
        k = min(int(k), count, MAX_LIMIT)
        if k <= 0:
            return Hits(np.zeros(0, np.int64), np.zeros(0, np.float32), True)
        params, exact = self.backend.search_params(self.info, k, count)
        res = self._call(lambda c: c.search(self.name, data=[q.tolist()], limit=k, filter=expr,
                                            anns_field="vec", search_params={"metric_type": "IP", "params": params},
                                            output_fields=[]))
        rows = np.array([int(h["id"]) for h in res[0]], dtype=np.int64)
        return _top(rows, self._scores(q, rows), k, exact)  # exact fp32 scores, ties by row as Faiss gives

    def _call(self, fn: Any) -> Any:
        """Run one Milvus call; when it fails, repair the collection (load, rebuild) or answer 503."""
        try:
            return fn(self.backend.client())
        except MilvusError as first:
            reason = " ".join(str(first).split())[:200]
        with self._repair_lock:
            self.backend.repair(self, reason)
        try:
            return fn(self.backend.client())
        except MilvusError as exc:
            log.warning("milvus: %s still failing after repair: %s", self.name, _line(exc))
            raise VectorBackendUnavailable(UNAVAILABLE) from None


class MilvusBackend:
    """The VectorBackend of Milvus collections at `uri` (FLAT up to `exact_max_rows` rows, HNSW above; IVF_FLAT
    where the server has no HNSW, as milvus-lite); infos under `indexes_root` like the Faiss ones."""

    def __init__(self, uri: str, indexes_root: Path, exact_max_rows: int, metadata: MetadataSource,
                 timeout: float = 5.0):
        self.uri = uri
        self.indexes_root = Path(indexes_root)
        self.exact_max_rows = int(exact_max_rows)
        self.metadata = metadata
        self.timeout = float(timeout)
        self.build_timeout = int(max(300.0, self.timeout))  # building and loading a collection takes longer
        self._client: Any = None
        self._no_hnsw = False  # the server refused HNSW once (milvus-lite): FLAT from then on
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    self._client = connect(self.uri, self.timeout)
                except MilvusError as exc:
                    log.warning("milvus at %s: cannot connect: %s", masked(self.uri), _line(exc))
                    raise VectorBackendUnavailable(UNAVAILABLE) from None
            return self._client

    # -- VectorBackend --
    def build(self, fv: FeatureVersion) -> MilvusIndex:
        started = time.perf_counter()
        name = collection_name(fv.model, fv.version, fv.path.name)
        n, d = int(fv.features.shape[0]), int(fv.features.shape[1])
        table = self.metadata.table()
        versions = [str(v["version"]) for v in self.metadata.cluster_versions()]
        ids = np.asarray(fv.ids, np.int64)
        clusters = {v: cluster_column(ids, self.metadata.cluster_labels(v)) for v in versions}
        pos = self._positions(ids, table.ids)
        fields = row_fields(ids, table, pos, clusters)
        info: dict[str, Any] = {"backend": "milvus", "model": fv.model, "version": fv.version,
                                "snapshot": fv.path.name, "collection": name, "count": n, "dim": d,
                                "metric": "inner_product", "exact_max_rows": self.exact_max_rows,
                                "rows": n, "dims": d}
        index = MilvusIndex(self, fv, name, fields, clusters, info)
        index.generation = table.generation
        with self._build_lock(name):
            self._create(index, n, d, rebuild_reason=None)
        info["load_seconds"] = round(time.perf_counter() - started, 3)
        if n > self.exact_max_rows:  # measured against exact numpy whatever the index (docs/milvus.md)
            kept = info.get("recall_at_k") if info.get("reused") else None
            info["recall_at_k"] = kept or measure_recall(index)
        info["build_seconds"] = round(time.perf_counter() - started, 3)
        info["built"] = now_iso()
        self._write_info(fv, info)
        return index

    def stored_info(self, model: str, version: str) -> dict[str, Any] | None:
        from swatch.search.faiss_build import read_info

        return read_info(self.indexes_root, model, version)

    def prepare(self, fv: FeatureVersion) -> dict[str, Any] | None:
        """At publish: create, fill, index and load the snapshot's collection and write its info (servers then
        reuse it as it is); the collections of this version's snapshots gone from the feature store (retired)
        are released and dropped. None when Milvus cannot do it now (servers build it themselves)."""
        try:
            info = dict(self.build(fv).info)
        except (MilvusError, VectorBackendUnavailable) as exc:
            log.warning("milvus: could not load %s/%s at publish: %s", fv.model, fv.version, _line(exc))
            return None
        on_disk = {p.name for p in fv.path.parent.glob(f".snap-{fv.version}-*")}
        self.prune(fv.model, fv.version, on_disk | {fv.path.name})
        return info

    def prune(self, model: str, version: str, keep: set[str]) -> None:
        """Release and drop the collections of this version's other snapshots (retired ones)."""
        wanted = {collection_name(model, version, s) for s in keep}
        stem = collection_name(model, version, "")[: -12]
        try:
            client = self.client()
            for name in client.list_collections():
                if name.startswith(stem) and name not in wanted:
                    client.release_collection(name)
                    client.drop_collection(name)
                    log.info("milvus: dropped retired collection %s", name)
        except (MilvusError, VectorBackendUnavailable) as exc:
            log.warning("milvus: could not prune %s/%s: %s", model, version, exc)

    # -- building and repairing --
    def _create(self, index: MilvusIndex, n: int, d: int, rebuild_reason: str | None) -> None:
        """Reuse the collection when whole (right dimension and count), else drop and fill it from the rows."""
        client, name = self.client(), index.name
        reason = rebuild_reason
        if client.has_collection(name):
            found = _dimension(client.describe_collection(name))
            if found != d:
                reason = f"collection {name} has dimension {found}, expected {d}"
            else:
                client.load_collection(name, timeout=self.build_timeout)
                count = int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
                found_type = _index_type(client, name)
                if count != n:
                    reason = f"collection {name} holds {count} rows, expected {n}"
                elif found_type not in ("FLAT", "HNSW"):
                    reason = f"collection {name} has a {found_type} index (FLAT or HNSW expected)"
                elif reason is None:
                    self._reuse(index, found_type)
                    return
            client.drop_collection(name)
        if reason:
            log.warning("milvus: rebuilding %s from the feature store: %s", name, reason)
            index.info["rebuilt"] = {"reason": reason, "at": now_iso()}
        kind = self._index_kind(n)
        self._new_collection(client, name, d, kind)
        self.insert(client, name, index.fields, index.rows, np.arange(n), upsert=False)
        client.flush(name, timeout=self.build_timeout)
        client.load_collection(name, timeout=self.build_timeout)
        index.info.update(kind, reused=False, fields_digest=index.fields.digest())

    def _reuse(self, index: MilvusIndex, found_type: str) -> None:
        """A whole collection found (a restart, or one built at publish): its fields are rewritten only when
        they differ from those it was written with (the digest in the snapshot's info.json)."""
        n = index.ntotal
        kind = self._index_kind(n) if found_type == "HNSW" else _flat(n > self.exact_max_rows)
        stored = self._read_info(index.fv)
        digest = index.fields.digest()
        same = stored.get("collection") == index.name and stored.get("fields_digest") == digest
        if not same:
            self.insert(self.client(), index.name, index.fields, index.rows, np.arange(n), upsert=True)
        index.info.update(kind, reused=True, fields_digest=digest)
        if same and stored.get("recall_at_k"):
            index.info["recall_at_k"] = stored["recall_at_k"]

    def _index_kind(self, n: int) -> dict[str, Any]:
        if n <= self.exact_max_rows:
            return _flat(False)
        return {"kind": "milvus-hnsw", "index_type": "HNSW", "approximate": True, "hnsw": dict(HNSW),
                "ef_search": 128}

    def _new_collection(self, client: Any, name: str, d: int, kind: dict[str, Any]) -> None:
        from swatch.search.milvus_client import pymilvus_quiet, schema

        if kind["index_type"] == "HNSW" and self._no_hnsw:
            kind.clear()
            kind.update(_flat(True))
        params = client.prepare_index_params()
        if kind["index_type"] == "HNSW":
            params.add_index("vec", index_type="HNSW", metric_type="IP", params=HNSW)
        else:
            params.add_index("vec", index_type="FLAT", metric_type="IP")
        try:
            with pymilvus_quiet():  # a refused index type is answered below, not logged by pymilvus
                client.create_collection(name, schema=schema(client, d), index_params=params,
                                         consistency_level="Session", timeout=self.build_timeout)
        except MilvusError as exc:
            if kind["index_type"] != "HNSW" or "index type" not in str(exc):
                raise
            self._no_hnsw = True
            client.drop_collection(name)  # milvus-lite has no HNSW, and its IVF_FLAT ignores nprobe: FLAT
            kind.clear()
            kind.update(_flat(True))
            params = client.prepare_index_params()
            params.add_index("vec", index_type="FLAT", metric_type="IP")
            client.create_collection(name, schema=schema(client, d), index_params=params,
                                     consistency_level="Session", timeout=self.build_timeout)

    def insert(self, client: Any, name: str, fields: RowFields, rows: np.ndarray, which: np.ndarray,
               upsert: bool) -> None:
        """Write rows `which` (vectors from `rows`, fields from `fields`) in batches."""
        write = client.upsert if upsert else client.insert
        batch = max(1, min(INSERT_BATCH, INSERT_FLOATS // max(1, int(rows.shape[1]))))
        for start in range(0, len(which), batch):
            part = which[start : start + batch]
            block = np.asarray(rows[part], np.float32)
            write(name, [fields.entity(int(r), block[i]) for i, r in enumerate(part.tolist())],
                  timeout=self.build_timeout)

    def search_params(self, info: dict[str, Any], k: int, count: int) -> tuple[dict[str, Any], bool]:
        """Search parameters and whether the answer is exact (FLAT only)."""
        if info.get("index_type") == "HNSW":
            return {"ef": max(int(info.get("ef_search", 128)), 2 * k)}, False
        return {}, True

    def repair(self, index: MilvusIndex, reason: str) -> None:
        """After a failed call: 503 while Milvus is unreachable; a collection gone or unloaded is rebuilt or
        loaded again (reported in the log and the index info)."""
        try:
            client = self.client()
            client.list_collections()
        except (MilvusError, VectorBackendUnavailable):
            with self._lock:
                self._client = None  # a fresh connection next time
            log.warning("milvus at %s is not answering: %s", masked(self.uri), reason)
            raise VectorBackendUnavailable(UNAVAILABLE) from None
        try:
            with self._build_lock(index.name):
                missing = not client.has_collection(index.name)
                self._create(index, index.ntotal, int(index.rows.shape[1]),
                             rebuild_reason=f"collection {index.name} is missing" if missing else None)
            self._write_info(index.fv, index.info)
        except MilvusError as exc:
            log.warning("milvus: could not repair %s: %s", index.name, _line(exc))
            raise VectorBackendUnavailable(UNAVAILABLE) from None

    @contextmanager
    def _build_lock(self, name: str) -> Iterator[None]:
        """One builder per collection among the processes sharing this data directory."""
        self.indexes_root.mkdir(parents=True, exist_ok=True)
        with open(self.indexes_root / f".milvus-{name}.lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _positions(ids: np.ndarray, table_ids: np.ndarray) -> np.ndarray:
        if not len(table_ids):
            return np.full(len(ids), -1, np.int64)
        at = np.minimum(np.searchsorted(table_ids, ids), len(table_ids) - 1)
        return np.where(table_ids[at] == ids, at, -1).astype(np.int64)

    def _read_info(self, fv: FeatureVersion) -> dict[str, Any]:
        try:
            return dict(json.loads((self.indexes_root / fv.model / fv.version / fv.path.name / "info.json")
                                   .read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def _write_info(self, fv: FeatureVersion, info: dict[str, Any]) -> None:
        folder = self.indexes_root / fv.model / fv.version / fv.path.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_json_atomic(folder / "info.json", info)
        except OSError as exc:
            log.warning("could not write %s/info.json: %s", folder, exc)


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _flat(fallback: bool) -> dict[str, Any]:
    """FLAT: exact; `fallback` where HNSW was wanted but the server has none (milvus-lite)."""
    return {"kind": "milvus-flat", "index_type": "FLAT", "approximate": False} | (
        {"hnsw_refused": NO_HNSW} if fallback else {})


def _index_type(client: Any, name: str) -> str:
    try:
        return str(client.describe_index(name, "vec").get("index_type", "")).upper()
    except MilvusError:
        return ""


def _dimension(described: dict[str, Any]) -> int | None:
    for f in described.get("fields", []):
        if f.get("name") == "vec":
            return int(f.get("params", {}).get("dim", 0))
    return None


def measure_recall(index: MilvusIndex, queries: int = RECALL_QUERIES, k: int = RECALL_K, seed: int = 0) -> dict:
    """recall@k of the collection's approximate search against exact numpy scores, catalogue rows as queries."""
    rng = np.random.default_rng(seed)
    n = index.ntotal
    picks = rng.choice(n, size=min(queries, n), replace=False)
    k = min(k, n)
    hits = 0
    for row in picks:
        q = index.vector(int(row))
        got = index.search(q, k)
        truth = exact_top(index.rows, q, k)
        hits += len(np.intersect1d(got.rows, truth))
    return {"k": k, "queries": len(picks), "recall": round(hits / (len(picks) * k), 4) if len(picks) else 1.0}


def exact_top(rows: np.ndarray, q: np.ndarray, k: int, chunk: int = 65_536) -> np.ndarray:
    """The exact top-k row positions by inner product (chunked numpy scan)."""
    best_rows = np.zeros(0, np.int64)
    best = np.zeros(0, np.float32)
    for start in range(0, rows.shape[0], chunk):
        s = np.asarray(rows[start : start + chunk], np.float32) @ q
        take = np.argpartition(-s, min(k, len(s)) - 1)[:k]
        best_rows = np.concatenate([best_rows, take + start])
        best = np.concatenate([best, s[take]])
        keep = np.argpartition(-best, min(k, len(best)) - 1)[:k]
        best_rows, best = best_rows[keep], best[keep]
    return best_rows
