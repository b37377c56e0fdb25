"""An ingest job in a real `swatch worker` process: progress from the API, SIGKILL mid-extraction leaves the job failed
with a reason and the catalogue intact, and the next ingest job finishes the work."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from swatch.catalog import jobs as jobdb
from swatch.catalog.db import Catalog
from swatch.catalog.folders import register_folder
from swatch.features.store import FeatureStore
from swatch.web import create_app

ROOT = Path(__file__).resolve().parents[2]
LEASE = {"SWATCH_JOB_HEARTBEAT_S": "1", "SWATCH_JOB_STALE_S": "3"}
PAUSE_MS = 1000  # the first worker rests a second after each image: its extraction lasts ~8 s, so it is killed mid-way
HEADERS = {"Authorization": "Bearer test-admin-token"}


def worker(data_dir: Path, log: Path, batch: int, pause_ms: int = 0) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SWATCH_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), "SWATCH_BATCH_SIZE": str(batch),
           "SWATCH_INGEST_PAUSE_MS": str(pause_ms), **LEASE}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "swatch", "worker", "--poll", "0.2"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def wait_job(client: Any, job_id: str, until: Any, timeout: float = 240, what: str = "") -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if until(job):
            return job
        if job["state"] not in ("queued", "running"):
            pytest.fail(f"job {job_id} ended before it was {what}: {job}")
        time.sleep(0.05)
    pytest.fail(f"job {job_id} not {what} after {timeout} s: {client.get(f'/api/jobs/{job_id}').get_json()}")


@pytest.mark.sqlite_only  # checks the SQLite file's integrity after the SIGKILL
def test_a_killed_workers_ingest_fails_with_a_reason_and_the_next_ingest_succeeds(settings, tmp_path,
                                                                                   demo_images) -> None:
    house = tmp_path / "house"
    house.mkdir()
    for k, src in enumerate(sorted(demo_images.glob("*.jpg"))[:8]):
        Image.open(src).rotate(90).save(house / f"AW26 - WORKER - WK{k:03d}-1.png")
    catalog = Catalog(settings.database)
    folder_id = register_folder(catalog, str(house.resolve()), None, None)
    before_ids = sorted(catalog.live_ids())
    store = FeatureStore(settings.features_dir)
    before_rows = {m: store.load(m, "v1").ids.tolist() for m in ("color", "pattern")}
    app = create_app({"TESTING": True, "SETTINGS": dataclasses.replace(settings, jobs="worker")})
    client = app.test_client()

    started = client.post("/api/ingest", json={"folder": folder_id}, headers=HEADERS)
    assert started.status_code == 202, started.get_json()
    job_id = started.get_json()["job"]
    assert client.get(f"/api/jobs/{job_id}").get_json()["state"] == "queued"
    first = worker(settings.data_dir, tmp_path / "first.log", batch=1, pause_ms=PAUSE_MS)  # killed mid-way
    second = None
    try:
        running = wait_job(client, job_id, lambda j: "extracting" in j["message"], what="extracting")
        assert running["state"] == "running" and 0 < running["progress"] < 1
        assert running["message"].startswith("house: extracting ")
        first_owner = jobdb.get_job(catalog, job_id)
        assert first_owner is not None and f":{first.pid}:" in (first_owner.owner or "")
        kill(first)  # mid-extraction, no chance to clean up
        second = worker(settings.data_dir, tmp_path / "second.log", batch=32)
        failed = wait_job(client, job_id, lambda j: j["state"] != "running", timeout=60, what="reaped")
        assert failed["state"] == "failed"
        assert failed["message"].startswith("worker died (no heartbeat for") and "\n" not in failed["message"]

        # the catalogue is intact: its file checks out, the published versions are the ones from before
        assert catalog.connect().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {m: store.load(m, "v1").ids.tolist() for m in ("color", "pattern")} == before_rows
        assert set(before_ids) <= set(catalog.live_ids())

        again = client.post("/api/ingest", json={"folder": folder_id}, headers=HEADERS)
        assert again.status_code == 202, again.get_json()
        done = wait_job(client, again.get_json()["job"], lambda j: j["state"] not in ("queued", "running"),
                        timeout=600, what="finished")
        assert done["state"] == "done", done
        assert done["progress"] == 1.0
        live = sorted(catalog.live_ids())
        assert len(live) == len(before_ids) + 8
        for model in ("color", "pattern"):
            assert store.load(model, "v1").ids.tolist() == live
        hits = client.get("/find-similar", query_string={"filename": "AW26 - WORKER - WK003-1.png", "topN": 3})
        assert hits.status_code == 200, hits.get_json()
    finally:
        kill(first)
        if second is not None:
            kill(second)
