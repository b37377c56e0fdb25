"""Four `swatch serve` processes map the HNSW graph saved at publish, build none, and all take up a new snapshot."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from swatch.config import Settings
from swatch.search.cache import IndexCache
from swatch.testing.server import start_server
from swatch.testing.synthetic import SyntheticImage, add_images, publish_rows, synthetic_catalogue, textile_rows

WORKERS = 4
ROWS, DIM, EXACT_MAX = 6000, 768, 2000  # above the flat size and the exact threshold: an HNSW graph
ENV = {"SWATCH_EXACT_INDEX_MAX_ROWS": str(EXACT_MAX)}


def _get(url: str) -> tuple[int, int, Any]:
    """(status, answering pid, JSON body) on a new connection; an error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=60) as res:
            return res.status, int(res.headers["X-Worker-Pid"]), json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, int(exc.headers.get("X-Worker-Pid") or 0), None


def _children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _until_every_worker(url: str, workers: set[int], accept: Any, timeout: float = 180) -> set[int]:
    """Ask `url` until each worker pid has given an answer that `accept(status, body)` takes; those pids."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(8) as pool:
        while seen != workers and time.monotonic() < deadline:
            for status, pid, body in pool.map(lambda _: _get(url), range(16)):
                if accept(status, body):
                    seen.add(pid)
    return seen


def _pattern_index(body: Any) -> dict[str, Any]:
    pattern = next(m for m in body["models"] if m["model"] == "pattern")
    return next(v for v in pattern["versions"] if v["version"] == "v1")["index"] or {}


def test_processes_map_the_published_graph_and_take_up_a_new_snapshot_while_answering(tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data", exact_index_max_rows=EXACT_MAX)
    made = synthetic_catalogue(settings, ROWS, {"pattern": DIM}, seed=3)
    ids, rows = made["ids"], made["rows"]["pattern"]
    cache = IndexCache(settings.features_dir, settings.data_dir / "indexes", EXACT_MAX)
    first = cache.prepare("pattern", "v1")  # the publish step, in this (the "ingest") process
    assert first is not None and first["kind"] == "hnsw+int8" and first["reused"] is False

    server = start_server(settings.data_dir, threads=2, workers=WORKERS, env=ENV, ready_timeout=600)
    try:
        workers = _children(server.pid)
        assert len(workers) == WORKERS, server.output()[-2000:]
        query = int(ids[0])
        search = f"{server.url}/find-similar?id={query}&model=pattern&topN=50"
        assert _until_every_worker(search, workers, lambda s, b: s == 200 and len(b) == 50) == workers
        # each process mapped the saved graph: none built one
        mapped = _until_every_worker(f"{server.url}/api/models", workers, lambda s, b: s == 200 and (
            _pattern_index(b).get("mapped") is True and _pattern_index(b)["hnsw"]["reused"] is True))
        assert mapped == workers, server.output()[-3000:]
        assert "building the HNSW graph" not in server.output()

        # a new snapshot with new designs, published and indexed here while the processes answer
        errors: list[int] = []
        stop = threading.Event()

        def keep_searching() -> None:
            while not stop.is_set():
                status, _pid, body = _get(search)
                if status != 200 or not body:
                    errors.append(status)

        searchers = [threading.Thread(target=keep_searching) for _ in range(3)]
        for t in searchers:
            t.start()
        try:
            new = [SyntheticImage("synthetic://catalogue", f"new/NW{k}.jpg", f"NW{k}.jpg", f"NW{k:04d}", "1")
                   for k in range(6)]
            new_ids = add_images(settings, new)
            more = textile_rows(len(new), DIM, np.zeros(len(new), np.int64), seed=9)
            publish_rows(settings, "pattern", "v1", np.vstack([rows, more]), np.concatenate([ids, new_ids]))
            second = cache.prepare("pattern", "v1")
            time.sleep(1.0)
        finally:
            stop.set()
            for t in searchers:
                t.join(timeout=120)
        assert second is not None and second["rows"] == ROWS + len(new)
        # the new snapshot's graph is built once in all: here at publish, or (when a searching server process
        # noticed the snapshot first) by that one process, which saved it for this step and the other processes
        built_by_servers = server.output().count("building the HNSW graph")
        assert built_by_servers + (0 if second["reused"] else 1) == 1, server.output()[-3000:]
        assert errors == [], errors[:5]

        # every process serves the new designs, without a restart, from the graph saved here
        fresh = f"{server.url}/find-similar?id={int(new_ids[0])}&model=pattern&topN=10"
        served = _until_every_worker(fresh, workers, lambda s, b: s == 200 and len(b) == 10)  # unknown before
        assert served == workers, server.output()[-3000:]
        again = _until_every_worker(f"{server.url}/api/models", workers, lambda s, b: s == 200 and (
            _pattern_index(b).get("count") == ROWS + len(new) and _pattern_index(b).get("mapped") is True))
        assert again == workers
        assert server.output().count("building the HNSW graph") == built_by_servers
        assert _children(server.pid) == workers
    finally:
        server.stop(timeout=30)
    assert server.proc.returncode == 0, server.output()[-2000:]
