"""`swatch serve --workers 4`: several processes answer searches, add up their metrics and all see a new ingest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from helpers import shared_conftest

from swatch.testing.server import ROOT, start_server

make_image = shared_conftest().make_image
WORKERS = 4


def _search(url: str, image_id: int) -> tuple[int, int, list[dict[str, Any]]]:
    """(status, answering pid, results) of one /find-similar on a new connection; an error status is returned."""
    try:
        with urllib.request.urlopen(f"{url}/find-similar?id={image_id}&model=pattern&topN=100", timeout=60) as res:
            return res.status, int(res.headers["X-Worker-Pid"]), json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, int(exc.headers.get("X-Worker-Pid") or 0), []


def _children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


def _live_ids(url: str) -> list[int]:
    with urllib.request.urlopen(f"{url}/api/images?per_page=200", timeout=30) as res:
        return sorted(int(image["id"]) for image in json.loads(res.read())["images"])


def _ids_under(data_dir: Path, folder: Path) -> set[int]:
    from swatch.catalog.db import Catalog

    catalog = Catalog(data_dir / "catalog.db")
    try:
        return {image.id for image in catalog.images_under(str(folder.resolve())).values()}
    finally:
        catalog.close()


def test_four_processes_answer_and_all_pick_up_an_ingest(tmp_path: Path, data_dir: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_999999.db").write_bytes(b"stale run")  # a previous run's file: emptied at start
    server = start_server(data_dir, threads=2, workers=WORKERS, env={"PROMETHEUS_MULTIPROC_DIR": str(metrics)})
    try:
        old_ids = _live_ids(server.url)
        query = old_ids[0]
        assert not (metrics / "counter_999999.db").exists()
        workers = _children(server.pid)
        assert len(workers) == WORKERS, server.output()[-2000:]
        first: list[tuple[int, int, list[dict[str, Any]]]] = []
        with ThreadPoolExecutor(8) as pool:  # the kernel may hand one round to one process: up to 20 rounds
            for _ in range(20):
                first += pool.map(lambda _: _search(server.url, query), range(48))
                if len({pid for _, pid, _ in first}) > 1:
                    break
        assert all(status == 200 and results for status, _, results in first), first[:3]
        answered = {pid for _, pid, _ in first}
        assert len(answered) > 1 and answered <= workers, (answered, workers)

        # the counts of every process are added up at any one of them
        with urllib.request.urlopen(server.url + "/metrics", timeout=30) as res:
            text = res.read().decode()
        counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                      if line.startswith("swatch_http_requests_total{") and 'status="200"' in line
                      and "find" in line)
        assert counted >= len(first), [line for line in text.splitlines() if "requests_total" in line]

        # an ingest of new images while the processes answer searches
        new_folder = tmp_path / "new"
        for k in range(3):
            make_image(new_folder / f"SS24 - NEW LINE - NW{k:04d}-1.png", size=(128, 128), seed=100 + k)
        errors: list[tuple[int, int]] = []
        stop = threading.Event()

        def keep_searching() -> None:
            while not stop.is_set():
                status, pid, results = _search(server.url, query)
                if status != 200 or not results:
                    errors.append((status, pid))

        searchers = [threading.Thread(target=keep_searching) for _ in range(3)]
        for t in searchers:
            t.start()
        env = {**os.environ, "SWATCH_DATA_DIR": str(data_dir)}
        try:
            ingest = subprocess.run([sys.executable, "-m", "swatch", "ingest", "--images", str(new_folder),
                                     "--quiet", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=600)
        finally:
            stop.set()
            for t in searchers:
                t.join(timeout=120)
        assert ingest.returncode == 0, ingest.stderr[-2000:]
        assert json.loads(ingest.stdout.strip().splitlines()[-1])["added"] == 3
        assert errors == [], errors[:5]

        # every process serves the new designs, without a restart
        new_ids = _ids_under(data_dir, new_folder)
        assert len(new_ids) == 3 and sorted(new_ids) == _live_ids(server.url)[-3:]
        fresh: set[int] = set()
        deadline = time.monotonic() + 120
        with ThreadPoolExecutor(8) as pool:
            while fresh != workers and time.monotonic() < deadline:
                for status, pid, results in pool.map(lambda _: _search(server.url, query), range(32)):
                    assert status == 200
                    if new_ids <= {int(r["id"]) for r in results}:
                        fresh.add(pid)
        assert fresh == workers, (fresh, workers)
        assert _children(server.pid) == workers  # the same processes: nothing restarted
        for new_id in new_ids:
            status, _, results = _search(server.url, new_id)
            assert status == 200 and len(results) == len(old_ids) + 2
    finally:
        server.stop(timeout=30)
    assert server.proc.returncode == 0, server.output()[-2000:]


def test_bad_workers_and_an_unusable_catalogue_are_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "SWATCH_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    serve = [sys.executable, "-m", "swatch.serve", "--port", "8"]
    proc = subprocess.run([*serve, "--workers", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr.strip()) == (2, "error: --workers must be between 1 and 256")
    assert not (tmp_path / "data").exists()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "catalog.db").write_bytes(b"not a database, and long enough to look like a header" * 40)
    proc = subprocess.run([*serve, "--workers", "2"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: cannot open catalogue")
