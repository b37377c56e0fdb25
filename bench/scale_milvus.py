"""Faiss and Milvus side by side on one synthetic catalogue of compact rows (`bench/scale.py --backend milvus`).

Writes N catalogue images with metadata and a `pattern` version of `--dim` (256) dimensions, starts a real
Milvus (milvus-lite's server binary on a free port), then in this one process builds the Faiss index and the
Milvus collection the way `swatch ingest` does at publish (then loaded by a server as it warms up) and measures
for each: publish and load time, in-process search p50/p99
(SimilaritySearch.similar_to_image, top 100) unfiltered and with filters keeping about 10 % and 0.1 % of the
rows (Milvus evaluates them as its filter expression), recall@100 against exact numpy, the RSS of this process
and of the Milvus server. Prints one JSON object (`--out`: also a file).

    .venv/bin/python bench/scale.py --backend milvus --rows 200000 --out /tmp/milvus_scale.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from swatch.config import Settings
from swatch.search.cache import prepare_published, publish_backend
from swatch.search.filters import parse_filters
from swatch.search.params import SearchParams
from swatch.search.service import SearchEngine
from swatch.testing.milvus import MilvusServer
from swatch.testing.probes import memory_mb
from swatch.testing.synthetic import FIBRES, QUALITIES, RARE_SEASON, synthetic_catalogue

TOP_N = 100
FILTERS: dict[str, dict[str, Any]] = {
    "no_filter": {},
    "filter_10pct": {"season": RARE_SEASON},
    "filter_0.1pct": {"season": RARE_SEASON, "quality": QUALITIES[0], "fiber": FIBRES[0], "min": 80},
}


def _rss_mb(pid: int) -> float:
    return memory_mb(pid, ("VmRSS",)).get("VmRSS", 0.0)


def exact_top(rows: np.ndarray, queries: list[int], k: int, allowed: np.ndarray | None) -> dict[int, set[int]]:
    """The exact top k rows (the query left out) of each query row, among `allowed` rows."""
    out: dict[int, set[int]] = {}
    for start in range(0, len(queries), 64):
        batch = queries[start:start + 64]
        scores = rows @ rows[batch].T
        if allowed is not None:
            scores[~allowed] = -np.inf
        scores[batch, np.arange(len(batch))] = -np.inf
        top = np.argpartition(-scores, k, axis=0)[:k]
        for j, q in enumerate(batch):
            out[q] = {int(r) for r in top[:, j] if np.isfinite(scores[r, j])}
    return out


def measure(engine: SearchEngine, ids: np.ndarray, rows: np.ndarray, picks: np.ndarray,
            truths: dict[str, dict[int, set[int]]]) -> dict[str, Any]:
    """p50/p99 of in-process searches per filter, exact answers, recall@100 against numpy."""
    position = {int(i): k for k, i in enumerate(ids.tolist())}
    out: dict[str, Any] = {}
    for name, raw in FILTERS.items():
        params = SearchParams(top_n=TOP_N, filters=parse_filters(raw))
        for k in picks[:5]:  # warm up
            engine.similar_to_image(int(ids[k]), params)
        times, exact, recalls, totals = [], 0, [], []
        for k in picks:
            t = time.perf_counter()
            res = engine.similar_to_image(int(ids[k]), params)
            times.append((time.perf_counter() - t) * 1000.0)
            exact += res.exact
            totals.append(res.total)
            truth = truths[name][int(k)]
            got = {position[int(h["id"])] for h in res.hits}
            recalls.append(len(got & truth) / max(1, min(TOP_N, len(truth))))
        out[name] = {"requests": len(picks), "p50_ms": round(float(np.percentile(times, 50)), 2),
                     "p99_ms": round(float(np.percentile(times, 99)), 2), "exact_answers": exact,
                     "kept_fraction": round(float(np.median(totals)) / len(ids), 5),
                     "recall_at_100": {"mean": round(float(np.mean(recalls)), 4),
                                       "min": round(float(np.min(recalls)), 4)}}
    return out


def bench(n: int, dim: int, requests: int, work: Path) -> dict[str, Any]:
    settings = Settings.from_env(data_dir=work / f"data-{n}")
    result: dict[str, Any] = {"rows": n, "dim": dim, "top_n": TOP_N}
    t = time.perf_counter()
    made = synthetic_catalogue(settings, n, {"pattern": dim}, seed=n, rare_fraction=0.1)
    ids, rows = made["ids"], made["rows"]["pattern"]
    del made
    result["catalogue_build_s"] = round(time.perf_counter() - t, 1)
    picks = np.random.default_rng(n + 1).choice(n, size=requests, replace=False)
    faiss = SearchEngine(settings)
    table = faiss.metadata.table()
    truths: dict[str, dict[int, set[int]]] = {}
    for name, raw in FILTERS.items():
        mask = parse_filters(raw).mask(table, faiss.metadata.cluster_labels)
        truths[name] = exact_top(rows, [int(k) for k in picks], TOP_N, mask)
    me = os.getpid()
    with MilvusServer(work / "milvus") as server:
        result["milvus_server_rss_mb_idle"] = round(server.rss_bytes() / 2**20, 1)
        before = _rss_mb(me)
        t = time.perf_counter()
        faiss.registry.index("pattern", None)
        result["faiss"] = {"load_s": round(time.perf_counter() - t, 1),
                           "index": _summary(faiss.registry.index("pattern", None).index.info),
                           "process_rss_added_mb": round(_rss_mb(me) - before, 1)}
        result["faiss"]["search"] = measure(faiss, ids, rows, picks, truths)
        on_milvus = dataclasses.replace(settings, milvus_uri=server.uri, milvus_timeout_s=60)
        t = time.perf_counter()  # the publish step (swatch ingest): collection created, filled, indexed, loaded
        prepare_published(settings.features_dir, settings.data_dir / "indexes", settings.exact_index_max_rows,
                          ["pattern/v1"], publish_backend(on_milvus))
        publish_s = round(time.perf_counter() - t, 1)
        milvus = SearchEngine(on_milvus)
        before = _rss_mb(me)
        t = time.perf_counter()
        loaded = milvus.registry.index("pattern", None)
        result["milvus"] = {"publish_load_s": publish_s, "load_s": round(time.perf_counter() - t, 1),
                            "index": _summary(loaded.index.info),
                            "process_rss_added_mb": round(_rss_mb(me) - before, 1),
                            "server_rss_mb_loaded": round(server.rss_bytes() / 2**20, 1)}
        result["milvus"]["search"] = measure(milvus, ids, rows, picks, truths)
        result["milvus"]["server_rss_mb_after_search"] = round(server.rss_bytes() / 2**20, 1)
    result["process_rss_mb_end"] = _rss_mb(me)
    return result


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    keep = ("backend", "kind", "index_type", "hnsw_refused", "recall_at_k", "load_seconds", "build_seconds",
            "hnsw", "ef_search", "reused")
    return {k: v for k, v in info.items() if k in keep}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="50 requests")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path)
    args, _ = parser.parse_known_args(argv)  # scale.py's other flags (--clients, --workers) do not apply
    requests = 50 if args.quick else args.requests
    if args.rows < 1000 or not 1 <= requests <= args.rows:
        parser.error("--rows must be at least 1000 and --requests between 1 and --rows")
    work = args.work or Path(tempfile.mkdtemp(prefix="swatch-scale-milvus-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out: dict[str, Any] = {"benchmark": "scale_milvus", "cpus": os.cpu_count(), "load_avg_before": os.getloadavg()}
    try:
        out["result"] = bench(args.rows, args.dim, requests, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    out["load_avg_after"] = os.getloadavg()
    out["total_s"] = round(time.perf_counter() - started, 1)
    text = json.dumps(out, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
