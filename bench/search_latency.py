"""Latency of /find-similar and /api/search through the real waitress server, against the replaced approach.

For each catalogue size: write a synthetic catalogue (SQLite rows + a pattern feature version of the real
dimension), start `python -m swatch.serve` on 127.0.0.1, wait for /readyz to say ready, then time searches
with 1 and 8 concurrent clients, without and with a filter that keeps 1 % of the rows. Server-side time is the
view's X-Elapsed-Ms header; the client round trip is timed too. The replaced approach (per request: load the
.npy and the metadata JSON from disk, sklearn cosine_similarity over every row, filter afterwards) runs in this
process on the same files. Prints one JSON object.

    .venv/bin/python bench/search_latency.py            # 20,000 and 200,000 rows (about 6-10 minutes)
    .venv/bin/python bench/search_latency.py --quick    # 2,000 and 20,000 rows, fewer requests
"""

from __future__ import annotations

import argparse
import io
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
from swatch.testing.load import Client, pct, run_load
from swatch.testing.probes import memory_mb, multipart
from swatch.testing.server import start_server
from swatch.testing.synthetic import RARE_SEASON, synthetic_catalogue


def replaced_approach(npy: Path, meta_json: Path, query_row: int, season: str | None, top_n: int) -> float:
    """The old tool's request: reload everything, score every row, filter the ranked list afterwards."""
    from sklearn.metrics.pairwise import cosine_similarity

    started = time.perf_counter()
    feats = np.load(npy)
    with open(meta_json, encoding="utf-8") as fh:
        meta = json.load(fh)
    names = list(meta)
    sims = cosine_similarity(feats[query_row : query_row + 1], feats)[0]
    out = []
    for k in np.argsort(-sims):
        if k == query_row:
            continue
        entry = meta[names[k]]
        if season is not None and entry.get("season") != season:
            continue
        out.append({"filename": names[k], **entry, "similarity": float(sims[k])})
        if len(out) >= top_n:
            break
    json.dumps(out)
    return (time.perf_counter() - started) * 1e3


def upload_payload() -> bytes:
    from PIL import Image

    from swatch.demo import generate_demo_catalogue

    with tempfile.TemporaryDirectory() as tmp:
        generate_demo_catalogue(Path(tmp), designs=1, colourways=1, size=512, seed=5, progress=False)
        path = next(p for p in Path(tmp).rglob("*.jpg"))
        img = Image.open(path).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def bench_size(n: int, dim: int, params: dict, requests: int, old_requests: int, uploads: int,
               work: Path) -> dict[str, Any]:
    data = work / f"data-{n}"
    settings = Settings.from_env(data_dir=data)
    t = time.perf_counter()
    info = {"pattern": {"extractor": "pattern", "kind": "pretrained", "params": params}}
    made = synthetic_catalogue(settings, n, {"pattern": dim}, seed=n, rare_fraction=0.01, infos=info)
    ids = made.pop("ids")
    del made["rows"]
    npy = data / "image_features" / "pattern" / "v1" / "features.npy"
    meta_json = data / "old_image_metadata_map.json"
    with open(meta_json, "w", encoding="utf-8") as fh:  # the replaced tool's metadata file, one entry per row
        from swatch.catalog.db import Catalog

        rows = Catalog(settings.db_path).connect().execute(
            "SELECT i.filename, m.design, m.season, m.quality, m.composition, m.cluster FROM images i"
            " JOIN metadata m ON m.image_id = i.id ORDER BY i.id").fetchall()
        json.dump({f: {"design": d, "season": s, "quality": q, "features": json.loads(c), "cluster": cl}
                   for f, d, s, q, c, cl in rows}, fh)
    built_s = time.perf_counter() - t

    result: dict[str, Any] = {"rows": n, "dim": dim, "catalogue_build_s": round(built_s, 1)}
    t = time.perf_counter()
    live = start_server(data, threads=8, log=work / f"server-{n}.log", ready_timeout=900)
    port, proc = live.port, live.proc
    try:
        result["server_ready_s"] = round(time.perf_counter() - t, 1)
        index_info = json.loads(Client(port).request("GET", "/api/models")[2])
        pattern = next(m for m in index_info["models"] if m["model"] == "pattern")
        result["index"] = {k: v for k, v in (pattern["versions"][0]["index"] or {}).items()
                           if k in ("kind", "int8_max_residual", "recall_at_k", "build_seconds", "device", "hnsw")}

        rng = np.random.default_rng(n)
        picks = rng.integers(0, n, requests)
        plain = [f"/find-similar?id={int(ids[k])}&model=pattern&topN=100" for k in picks]
        filtered = [p + f"&season={RARE_SEASON}" for p in plain]
        run_load(port, plain[:20] + filtered[:20], 1)  # warm caches and code paths
        runs = {}
        for clients in (1, 8):
            for name, paths in (("no_filter", plain), ("filter_1pct", filtered)):
                runs[f"{name}_{clients}_clients"] = run_load(port, paths, clients)
        result["find_similar"] = runs
        memory = memory_mb(proc.pid, ("VmRSS", "RssAnon", "RssFile", "VmHWM"))
        result["server_rss"] = {key + "_mb": mb for key, mb in memory.items()}

        if uploads:
            image = upload_payload()
            body, ctype = multipart({"model": "pattern", "topN": "100"}, image)
            client = Client(port)
            first = client.request("POST", "/api/search", body, {"Content-Type": ctype})
            times, server, parts = [], [], []
            for _ in range(uploads):
                status, headers, _, ms = client.request("POST", "/api/search", body, {"Content-Type": ctype})
                if status == 200:
                    times.append(ms)
                    server.append(float(headers["x-elapsed-ms"]))
                    parts.append(headers.get("server-timing", ""))
            result["upload_search"] = {
                "image_bytes": len(image), "first_upload_ms": round(first[3], 1), "requests": len(times),
                "roundtrip_p50_ms": pct(times, 50), "server_p50_ms": pct(server, 50),
                "server_timing_example": parts[len(parts) // 2] if parts else None,
            }

        old = {}
        for name, season in (("no_filter", None), ("filter_1pct", RARE_SEASON)):
            old_ms = [replaced_approach(npy, meta_json, int(k), season, 100) for k in picks[:old_requests]]
            old[name] = {"requests": len(old_ms), "p50_ms": pct(old_ms, 50)}
        result["replaced_approach"] = old
        result["speedup_p50"] = {
            name: round(old[name]["p50_ms"] / runs[f"{name}_1_clients"]["server_p50_ms"], 1) for name in old
        }
    finally:
        live.stop(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 rows, fewer requests")
    parser.add_argument("--sizes", help="comma-separated catalogue sizes (default 20000,200000)")
    parser.add_argument("--requests", type=int, help="requests per configuration")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    default_sizes = [2000, 20000] if args.quick else [20000, 200000]
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else default_sizes
    requests = args.requests or (100 if args.quick else 300)

    from swatch.features.base import get_extractor

    ex = get_extractor("pattern")
    dim, params = ex.dim, ex.params()
    del ex
    work = args.work or Path(tempfile.mkdtemp(prefix="swatch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out: dict[str, Any] = {
        "benchmark": "search_latency", "cpus": os.cpu_count(), "load_avg_before": os.getloadavg(),
        "pattern_dim": dim, "top_n": 100, "sizes": {},
    }
    try:
        for n in sizes:
            big = n >= 100_000
            out["sizes"][str(n)] = bench_size(
                n, dim, params, requests, old_requests=3 if big else (10 if args.quick else 20),
                uploads=0 if big else (10 if args.quick else 30), work=work)
            print(json.dumps({"done": n, "elapsed_s": round(time.perf_counter() - started, 1)}), file=sys.stderr)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    out["load_avg_after"] = os.getloadavg()
    out["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
