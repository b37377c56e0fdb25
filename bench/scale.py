"""Swatch at scale: a synthetic catalogue of N designs with compact rows, served by the real server.

Writes N catalogue images with real metadata columns (season, quality, design, composition) and a `pattern`
feature version of `--dim` dimensions (seeded textile-like rows) into a temporary data dir, builds its index
the way `swatch ingest` does at publish (the backend's `prepare`: the HNSW graph saved beside the snapshot),
then for each `--workers` count starts the real server (`swatch serve`, one waitress process or N gunicorn
processes) on 127.0.0.1 and measures: start-to-ready (the saved index loaded at warm-up), publish-to-searchable
(a new version published and indexed while it runs, until the first search on it answers), RSS and PSS per
process and in total, `/find-similar` p50/p99 (server-side X-Elapsed-Ms and round trip) unfiltered and with
filters keeping about 10 % and 0.1 % of the rows, recall@100 of the unfiltered answers against exact brute force
(numpy), for each number of concurrent clients, and requests/s. Prints one JSON object (`--out`: also a file).

    .venv/bin/python bench/scale.py --rows 200000 --workers 1,4      # about 10 minutes on 2 cores
    .venv/bin/python bench/scale.py --rows 1000000 --dim 256 --clients 1,16 --workers 1,4
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
    for p, m in zip(pids, per, strict=True):
        m["Pss"] = _pss_mb(p)
    return {"processes": len(pids), "per_process_mb": per,
            "total_rss_mb": round(sum(m.get("VmRSS", 0.0) for m in per), 1),
            "total_pss_mb": round(sum(m.get("Pss", 0.0) for m in per), 1)}


def _pss_mb(pid: int) -> float:
    """Proportional set size (a page shared by k processes counts 1/k in each), MiB; 0 when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def prepare_faiss(settings: Settings, model: str, version: str) -> dict[str, Any] | None:
    """The Faiss backend's publish step, as `swatch ingest` runs it: build and save the version's index."""
    from swatch.search.cache import IndexCache

    cache = IndexCache(settings.features_dir, settings.data_dir / "indexes", settings.exact_index_max_rows)
    return cache.prepare(model, version)


#: backend name -> its publish step (what runs after a version is published, before servers search it)
BACKENDS = {"faiss": prepare_faiss}


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
          workers: list[int], backend: str = "faiss", partial: Any = None) -> dict[str, Any]:
    """One synthetic catalogue, indexed once at publish, then served with each count of processes in turn
    (`partial(result so far)` after each step: a long run that is stopped still leaves its figures)."""
    data = work / f"data-{n}"
    settings = Settings.from_env(data_dir=data)
    result: dict[str, Any] = {"rows": n, "dim": dim, "top_n": TOP_N, "backend": backend}
    t = time.perf_counter()
    made = synthetic_catalogue(settings, n, {"pattern": dim}, seed=n, rare_fraction=0.1)
    ids, rows, designs = made["ids"], made["rows"]["pattern"], made["meta"]["designs"]
    del made
    result["catalogue_build_s"] = round(time.perf_counter() - t, 1)
    prepare = BACKENDS[backend]
    t = time.perf_counter()
    made_index = prepare(settings, "pattern", "v1")
    result["publish_index"] = {"seconds": round(time.perf_counter() - t, 1), **_index_summary(made_index)}
    try:
        result["runs"] = {}
        for k, count in enumerate(workers):
            if partial is not None:
                partial(result)
            result["runs"][f"{count}_processes"] = serve_and_measure(
                settings, ids, rows, designs, clients, requests, recall_queries, work, count,
                version=f"v{k + 2}", prepare=prepare, publish=k == len(workers) - 1)
        if partial is not None:
            partial(result)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return result


def _index_summary(info: dict[str, Any] | None) -> dict[str, Any]:
    keep = ("kind", "int8_max_residual", "recall_at_k", "build_seconds", "graph_seconds", "device", "hnsw",
            "params", "mapped", "reused", "saved")
    return {k: v for k, v in (info or {}).items() if k in keep}


def serve_and_measure(settings: Settings, ids: np.ndarray, rows: np.ndarray, designs: np.ndarray,
                      clients: list[int], requests: int, recall_queries: int, work: Path, workers: int,
                      version: str, prepare: Any, publish: bool = True) -> dict[str, Any]:
    """Start the server with `workers` processes over the data dir and measure it (see the module docstring);
    `publish`: also publish-to-searchable (an index build: the last run only, it costs what the first did)."""
    n, dim = rows.shape
    data = settings.data_dir
    result: dict[str, Any] = {"server_processes": workers}
    position = {int(i): k for k, i in enumerate(ids.tolist())}

    t = time.perf_counter()
    more: dict[str, Any] = {"workers": workers} if workers > 1 else {}  # swatch serve --workers N
    live = start_server(data, threads=8, log=work / f"server-{n}-{workers}.log", ready_timeout=3600, **more)
    try:
        port, pid = live.port, live.pid
        result["start_to_ready_s"] = round(time.perf_counter() - t, 1)
        result["rss_after_start"] = tree_rss_mb(pid)
        client = Client(port)
        models = json.loads(client.request("GET", "/api/models")[2])["models"]
        client.close()
        pattern = next(m for m in models if m["model"] == "pattern")
        result["index"] = _index_summary(pattern["versions"][0].get("index"))

        rng = np.random.default_rng(n + 1)
        picks = rng.choice(n, size=requests, replace=False)
        base = [f"/find-similar?id={int(ids[k])}&model=pattern&topN={TOP_N}" for k in picks]
        run_load(port, [base[i % len(base)] + FILTERS[f] for i in range(10) for f in FILTERS], 1)  # warm up
        runs: dict[str, Any] = {}
        answers: dict[int, list[int]] = {}
        for name, extra in FILTERS.items():
            for c in clients:
                seen: dict[str, Any] = {"exact": 0, "total": [], "pids": set(), "phases": {}}

                def keep(path: str, headers: dict[str, str], body: bytes, name: str = name, c: int = c,
                         seen: dict[str, Any] = seen) -> None:
                    seen["exact"] += headers.get("x-exact", "").lower() == "true"
                    seen["total"].append(int(headers.get("x-total-count", "-1")))
                    seen["pids"].add(headers.get("x-worker-pid", ""))
                    for part in headers.get("server-timing", "").split(","):  # name;dur=ms, ...
                        name_, _, dur = part.strip().partition(";dur=")
                        if dur:
                            seen["phases"].setdefault(name_, []).append(float(dur))
                    if name == "no_filter" and c == clients[0] and len(answers) < recall_queries:
                        q = position[int(path.split("id=")[1].split("&")[0])]
                        answers[q] = [position[int(hit["id"])] for hit in json.loads(body)]

                run = run_load(port, [p + extra for p in base], c, keep)
                run["exact_answers"] = seen["exact"]
                run["answered_by_processes"] = len(seen["pids"] - {""})
                run["server_timing_p50_ms"] = {k: round(float(np.median(v)), 3) for k, v in seen["phases"].items()}
                run["kept_fraction"] = round(float(np.median(seen["total"])) / n, 5) if seen["total"] else None
                runs[f"{name}_{c}_clients"] = run
        result["find_similar"] = runs
        result["recall_at_100_no_filter"] = recall_at_k(rows, answers, TOP_N)
        result["rss_after_load"] = tree_rss_mb(pid)
        if not publish:
            return result

        # publish-to-searchable: a new version (another projection's rows) published and indexed while the
        # server runs, as `swatch ingest` does it (its index saved before the version is visible), until the
        # first search on it answers
        fresh = textile_rows(n, dim, designs, seed=n + 7)
        if prepare is prepare_faiss:
            from swatch.search.cache import prepare_on_publish

            prepare_on_publish(settings.features_dir, data / "indexes", settings.exact_index_max_rows)
        t = time.perf_counter()
        publish_rows(settings, "pattern", version, fresh, ids)
        published_s = time.perf_counter() - t
        del fresh
        made = prepare(settings, "pattern", version)
        indexed_s = time.perf_counter() - t - published_s
        searchable_s, tries = wait_searchable(port, base[0] + f"&version={version}", timeout=3600)
        result["publish_to_searchable"] = {
            "publish_s": round(published_s, 2), "index_s": round(indexed_s, 2),  # publish_s: with the index
            "first_search_answered_s": round(searchable_s, 2),
            "total_s": round(published_s + indexed_s + searchable_s, 2), "requests_until_200": tries,
            "index": _index_summary(made)}
        after = run_load(port, [p + f"&version={version}" for p in base[:max(20, requests // 5)]], 1)
        result[f"{version}_no_filter_1_client"] = after
        result["rss_after_second_version"] = tree_rss_mb(pid)
    finally:
        live.stop(timeout=60)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="designs in the synthetic catalogue")
    parser.add_argument("--dim", type=int, default=256, help="dimension of the compact pattern rows (256)")
    parser.add_argument("--clients", default="1,16", help="comma-separated concurrent clients (1,16)")
    parser.add_argument("--requests", type=int, help="requests per configuration (200; --quick 50)")
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--workers", default="1",
                        help="comma-separated counts of server processes, each measured (swatch serve --workers; 1)")
    parser.add_argument("--backend", default="faiss", choices=sorted([*BACKENDS, "milvus"]),
                        help="vector backend (faiss; milvus: Faiss and Milvus side by side, bench/scale_milvus.py)")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.backend == "milvus":  # one process, both back ends on one catalogue: bench/scale_milvus.py
        import scale_milvus

        return int(scale_milvus.main(sys.argv[1:] if argv is None else argv))
    try:
        clients = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error("--clients must be comma-separated integers")
    try:
        workers = [int(c) for c in args.workers.split(",")]
    except ValueError:
        parser.error("--workers must be comma-separated integers")
    if args.rows < 1000 or not 1 <= args.dim <= 4096 or not all(1 <= c <= 256 for c in clients) \
            or not all(1 <= w <= 64 for w in workers):
        parser.error("--rows must be at least 1000, --dim 1..4096, each of --clients 1..256, --workers 1..64")
    requests = args.requests or (50 if args.quick else 200)
    if not 1 <= requests <= min(args.rows, 100_000):
        parser.error("--requests must be between 1 and min(--rows, 100000)")

    work = args.work or Path(tempfile.mkdtemp(prefix="swatch-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out: dict[str, Any] = {"benchmark": "scale", "cpus": os.cpu_count(), "load_avg_before": os.getloadavg(),
                           "server_processes": workers, "workers_flag_available": workers_flag()}
    if max(workers) > 1 and not out["workers_flag_available"]:
        parser.error("--workers: this code tree's `swatch serve` has no --workers flag")
    def partial(result: dict[str, Any]) -> None:
        if args.out is not None:
            args.out.write_text(json.dumps({**out, "partial": True, "result": result}, indent=1) + "\n", "utf-8")

    try:
        out["result"] = bench(args.rows, args.dim, clients, requests, min(requests, 100), work, workers,
                              args.backend, partial)
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
