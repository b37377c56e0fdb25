"""Swatch at scale: a synthetic catalogue of N designs with compact rows, served by the real server.

Writes N catalogue images with real metadata columns (season, quality, design, composition) and a `pattern`
feature version of `--dim` dimensions (seeded textile-like rows) into a temporary data dir, starts the real
server (`python -m swatch.serve`, waitress, one process) on 127.0.0.1 and measures: start-to-ready (the
active version indexed at warm-up), publish-to-searchable (a second version published while it runs, until
the first search on it answers), the server's RSS, `/find-similar` p50/p99 (server-side X-Elapsed-Ms and
round trip) unfiltered and with filters keeping about 10 % and 0.1 % of the rows, recall@100 of the
unfiltered answers against exact brute force (numpy), for each number of concurrent clients, and requests/s.
Prints one JSON object.

    .venv/bin/python bench/scale.py --rows 200000            # about 5 minutes on 2 cores
    .venv/bin/python bench/scale.py --rows 1000000 --dim 256 --clients 1,16
    .venv/bin/python bench/scale.py --rows 20000 --quick     # fewer requests
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from swatch.config import Settings
from swatch.testing.load import Client, run_load
from swatch.testing.probes import memory_mb
from swatch.testing.server import start_server
from swatch.testing.synthetic import FIBRES, QUALITIES, RARE_SEASON, publish_rows, synthetic_catalogue, textile_rows

TOP_N = 100
# RARE_SEASON is given to 10 % of the rows; with one quality (1/6) and wool at 80 % or more (1/18): ~0.1 %
FILTERS = {
    "no_filter": "",
    "filter_10pct": f"&season={RARE_SEASON}",
    "filter_0.1pct": f"&season={RARE_SEASON}&quality={QUALITIES[0].replace(' ', '+')}&fiber={FIBRES[0]}&min=80",
}


def tree_rss_mb(pid: int) -> dict[str, Any]:
    """RSS of `pid` and of each of its descendants (several server processes), and their total, in MiB."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo += [int(c) for c in task.read_text().split()]
    per = [memory_mb(p, ("VmRSS", "RssAnon", "RssFile", "VmHWM")) for p in pids]
    return {"processes": len(pids), "per_process_mb": per,
            "total_rss_mb": round(sum(m.get("VmRSS", 0.0) for m in per), 1)}


def recall_at_k(rows: np.ndarray, answers: dict[int, list[int]], k: int) -> dict[str, Any]:
    """Mean and minimum |answer ∩ exact top k| / k over the answered queries (row position -> answer rows);
    the exact top k leaves the query out, as the search does."""
    queries = sorted(answers)
    recalls = []
    for start in range(0, len(queries), 64):
        batch = queries[start:start + 64]
        scores = rows @ rows[batch].T  # (n, batch) float32 inner products = cosines of unit rows
        scores[batch, np.arange(len(batch))] = -np.inf
        top = np.argpartition(-scores, k, axis=0)[:k]
        for j, q in enumerate(batch):
            recalls.append(len(set(top[:, j].tolist()) & set(answers[q])) / k)
    return {"queries": len(recalls), "mean": round(float(np.mean(recalls)), 4) if recalls else None,
            "min": round(float(np.min(recalls)), 4) if recalls else None}


def wait_searchable(port: int, path: str, timeout: float) -> tuple[float, int]:
    """Send `path` until it answers 200: seconds taken and requests sent."""
    started, sent = time.perf_counter(), 0
    client = Client(port, timeout=timeout)
    try:
        while time.perf_counter() - started < timeout:
            status = client.request("GET", path)[0]
            sent += 1
            if status == 200:
                return time.perf_counter() - started, sent
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"{path} not searchable after {timeout:.0f} s")


def workers_flag() -> bool:
    """Whether `swatch serve` has a --workers flag (several processes) in this code tree."""
    out = subprocess.run([sys.executable, "-m", "swatch.serve", "--help"], capture_output=True, text=True,
                         timeout=60)
    return "--workers" in out.stdout


def bench(n: int, dim: int, clients: list[int], requests: int, recall_queries: int, work: Path,
          workers: int = 1) -> dict[str, Any]:
    data = work / f"data-{n}"
    settings = Settings.from_env(data_dir=data)
    result: dict[str, Any] = {"rows": n, "dim": dim, "top_n": TOP_N}
    t = time.perf_counter()
    made = synthetic_catalogue(settings, n, {"pattern": dim}, seed=n, rare_fraction=0.1)
    ids, rows, designs = made["ids"], made["rows"]["pattern"], made["meta"]["designs"]
    del made
    result["catalogue_build_s"] = round(time.perf_counter() - t, 1)
    position = {int(i): k for k, i in enumerate(ids.tolist())}

    t = time.perf_counter()
    more: dict[str, Any] = {"workers": workers} if workers > 1 else {}  # swatch serve --workers N
    live = start_server(data, threads=8, log=work / f"server-{n}.log", ready_timeout=3600, **more)
    try:
        port, pid = live.port, live.pid
        result["start_to_ready_s"] = round(time.perf_counter() - t, 1)
        result["rss_after_start"] = tree_rss_mb(pid)
        client = Client(port)
        models = json.loads(client.request("GET", "/api/models")[2])["models"]
        client.close()
        pattern = next(m for m in models if m["model"] == "pattern")
        result["index"] = {k: v for k, v in (pattern["versions"][0].get("index") or {}).items()
                           if k in ("kind", "int8_max_residual", "recall_at_k", "build_seconds", "device", "hnsw")}

        rng = np.random.default_rng(n + 1)
        picks = rng.choice(n, size=requests, replace=False)
        base = [f"/find-similar?id={int(ids[k])}&model=pattern&topN={TOP_N}" for k in picks]
        run_load(port, [base[i % len(base)] + FILTERS[f] for i in range(10) for f in FILTERS], 1)  # warm up
        runs: dict[str, Any] = {}
        answers: dict[int, list[int]] = {}
        for name, extra in FILTERS.items():
            for c in clients:
                seen: dict[str, Any] = {"exact": 0, "total": []}

                def keep(path: str, headers: dict[str, str], body: bytes, name: str = name, c: int = c,
                         seen: dict[str, Any] = seen) -> None:
                    seen["exact"] += headers.get("x-exact", "").lower() == "true"
                    seen["total"].append(int(headers.get("x-total-count", "-1")))
                    if name == "no_filter" and c == clients[0] and len(answers) < recall_queries:
                        q = position[int(path.split("id=")[1].split("&")[0])]
                        answers[q] = [position[int(hit["id"])] for hit in json.loads(body)]

                run = run_load(port, [p + extra for p in base], c, keep)
                run["exact_answers"] = seen["exact"]
                run["kept_fraction"] = round(float(np.median(seen["total"])) / n, 5) if seen["total"] else None
                runs[f"{name}_{c}_clients"] = run
        result["find_similar"] = runs
        result["recall_at_100_no_filter"] = recall_at_k(rows, answers, TOP_N)
        result["rss_after_load"] = tree_rss_mb(pid)

        # publish-to-searchable: a new version (another projection's rows) published while the server runs
        t = time.perf_counter()
        publish_rows(settings, "pattern", "v2", textile_rows(n, dim, designs, seed=n + 7), ids)
        published_s = time.perf_counter() - t
        searchable_s, tries = wait_searchable(port, base[0] + "&version=v2", timeout=3600)
        result["publish_to_searchable"] = {
            "publish_s": round(published_s, 2), "first_search_answered_s": round(searchable_s, 2),
            "total_s": round(published_s + searchable_s, 2), "requests_until_200": tries}
        after = run_load(port, [p + "&version=v2" for p in base[:max(20, requests // 5)]], 1)
        result["v2_no_filter_1_client"] = after
        result["rss_after_second_version"] = tree_rss_mb(pid)
    finally:
        live.stop(timeout=60)
        shutil.rmtree(data, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="designs in the synthetic catalogue")
    parser.add_argument("--dim", type=int, default=256, help="dimension of the compact pattern rows (256)")
    parser.add_argument("--clients", default="1,16", help="comma-separated concurrent clients (1,16)")
    parser.add_argument("--requests", type=int, help="requests per configuration (200; --quick 50)")
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--workers", type=int, default=1, help="server processes (swatch serve --workers; 1)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    try:
        clients = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error("--clients must be comma-separated integers")
    if args.rows < 1000 or not 1 <= args.dim <= 4096 or not all(1 <= c <= 256 for c in clients) \
            or not 1 <= args.workers <= 64:
        parser.error("--rows must be at least 1000, --dim 1..4096, each of --clients 1..256, --workers 1..64")
    requests = args.requests or (50 if args.quick else 200)
    if not 1 <= requests <= min(args.rows, 100_000):
        parser.error("--requests must be between 1 and min(--rows, 100000)")

    work = args.work or Path(tempfile.mkdtemp(prefix="swatch-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out: dict[str, Any] = {"benchmark": "scale", "cpus": os.cpu_count(), "load_avg_before": os.getloadavg(),
                           "server_processes": args.workers, "workers_flag_available": workers_flag()}
    if args.workers > 1 and not out["workers_flag_available"]:
        parser.error("--workers: this code tree's `swatch serve` has no --workers flag")
    try:
        out["result"] = bench(args.rows, args.dim, clients, requests, min(requests, 100), work, args.workers)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    out["load_avg_after"] = os.getloadavg()
    out["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
