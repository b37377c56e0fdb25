"""Memory of `swatch serve` with 1 and with N processes (`--workers N`), over the same data dir. Prints JSON.

Starts the real server, waits for /readyz, runs searches on every model until each process has answered one
(so each has loaded its indexes), then reads RSS and PSS (proportional set size: a shared page counted once
over the processes that map it) of the master and its workers from /proc. RSS counts the shared pages (the
memory-mapped feature rows, the libraries, the HNSW graph saved at publish) in every process; PSS adds up to
what the machine really holds.

    .venv/bin/python bench/serve_memory.py --data-dir DIR             # an ingested data dir (make run's)
    .venv/bin/python bench/serve_memory.py --rows 100000 --dim 256    # a synthetic catalogue of that size
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from swatch.config import Settings
from swatch.search.cache import IndexCache
from swatch.testing.server import start_server
from swatch.testing.synthetic import synthetic_catalogue

MODELS = ("pattern", "color", "color+pattern")


def _kib(pid: int, file: str, field: str) -> int:
    for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _processes(pid: int) -> list[int]:
    return [pid, *(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=120) as res:
            res.read()
            return res.status, res.headers.get("X-Worker-Pid") or ""
    except urllib.error.HTTPError as exc:  # a model this catalogue lacks
        return exc.code, ""


def _search_url(base: str, image_id: int, model: str) -> str:
    return f"{base}/find-similar?id={image_id}&model={urllib.parse.quote(model)}&topN=10"


def measure(data_dir: Path, workers: int, threads: int) -> dict[str, Any]:
    server = start_server(data_dir, threads=threads, workers=workers, ready_timeout=600)
    try:
        with urllib.request.urlopen(server.url + "/api/images?per_page=1", timeout=60) as res:
            first = json.loads(res.read())["images"][0]["id"]
        models = [m for m in MODELS if _get(_search_url(server.url, first, m))[0] == 200]
        procs = _processes(server.pid)
        seen: dict[str, set[str]] = {m: set() for m in models}
        deadline = time.monotonic() + 300
        with ThreadPoolExecutor(8) as pool:
            while time.monotonic() < deadline and any(len(s) < max(1, len(procs) - 1) for s in seen.values()):
                for model in models:
                    for status, pid in pool.map(_get, [_search_url(server.url, first, model)] * 16):
                        if status == 200:
                            seen[model].add(pid)
        time.sleep(1.0)
        rss = {pid: _kib(pid, "status", "VmRSS") for pid in procs}
        pss = {pid: _kib(pid, "smaps_rollup", "Pss") for pid in procs}
        return {
            "workers": workers, "processes": len(procs),
            "rss_total_mib": round(sum(rss.values()) / 1024, 1),
            "pss_total_mib": round(sum(pss.values()) / 1024, 1),
            "rss_per_process_mib": [round(rss[p] / 1024, 1) for p in procs],
            "pss_per_process_mib": [round(pss[p] / 1024, 1) for p in procs],
            "answered_by": {m: len(s) for m, s in seen.items()},
        }
    finally:
        server.stop(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="an ingested data dir (default: a synthetic one)")
    parser.add_argument("--rows", type=int, default=20000, help="synthetic catalogue size (without --data-dir)")
    parser.add_argument("--dim", type=int, default=256, help="synthetic pattern row dimension")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swatch-serve-memory-") as work:
        data = args.data_dir
        if data is None:
            data = Path(work) / "data"
            settings = Settings.from_env(data_dir=data)
            synthetic_catalogue(settings, args.rows, {"pattern": args.dim})
            # the publish step of `swatch ingest`: a large version's HNSW graph saved, for the servers to map
            IndexCache(settings.features_dir, data / "indexes", settings.exact_index_max_rows).prepare("pattern", "v1")
        runs = [measure(data, 1, args.threads), measure(data, args.workers, args.threads)]
    print(json.dumps({"data_dir": str(args.data_dir or f"synthetic {args.rows} x {args.dim}"), "runs": runs},
                     indent=2))


if __name__ == "__main__":
    main()
