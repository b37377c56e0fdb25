"""`swatch worker` as a real process: SIGKILL mid-job, a web restart mid-training, two workers racing, cancel."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO

import numpy as np
import pytest
from helpers import cluster_fingerprint, rate_like_a_designer

from swatch.catalog import jobs as jobdb
from swatch.catalog.db import Catalog
from swatch.clustering.versions import ClusterRequest, run_clustering
from swatch.config import Settings
from swatch.jobs import JobRunner
from swatch.testing.server import start_server
from swatch.testing.synthetic import add_synthetic_version
from swatch.web import create_app

ROOT = Path(__file__).resolve().parents[2]
LEASE = {"SWATCH_JOB_HEARTBEAT_S": "1", "SWATCH_JOB_STALE_S": "3"}
TOKEN = "test-admin-token"


class WorkerProcess:
    """A `python -m swatch worker` subprocess over a data dir, its output in a file."""

    def __init__(self, data_dir: Path, log: Path, *flags: str):
        self.log_path = log
        self._log: IO[bytes] = open(log, "wb")  # noqa: SIM115 (closed in wait/kill)
        env = {**os.environ, "SWATCH_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), **LEASE}
        self.proc = subprocess.Popen([sys.executable, "-m", "swatch", "worker", "--poll", "0.2", *flags], cwd=ROOT,
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()


def record(catalog: Catalog, job_id: str) -> jobdb.JobRecord:
    job = jobdb.get_job(catalog, job_id)
    assert job is not None, f"no job {job_id}"
    return job


def wait_job(catalog: Catalog, job_id: str, until, timeout: float = 120.0, what: str = "") -> jobdb.JobRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobdb.get_job(catalog, job_id)
        if job is not None and until(job):
            return job
        time.sleep(0.05)
    pytest.fail(f"job {job_id} not {what} after {timeout} s: {jobdb.get_job(catalog, job_id)}")



def cluster_versions(settings: Settings) -> list[str]:
    return [r[0] for r in Catalog(settings.database).connect().execute(
        "SELECT version FROM cluster_versions ORDER BY version")]


def queue(settings: Settings, kind: str, params: dict) -> str:
    """Queue a job as a web process in worker mode does."""
    return JobRunner(Catalog(settings.database), 1, 3, mode="worker").start(kind, params, lambda ctx, p: {})


SLOW_CLUSTER = {"model": "pattern", "feature_version": "v2", "k": None, "seed": 1, "niter": 25, "nredo": 3}
QUICK_CLUSTER = {"model": "pattern", "feature_version": "v1", "k": 4, "seed": 3, "niter": 10, "nredo": 1}


def test_a_killed_workers_job_fails_with_a_reason_and_the_next_job_runs(settings, tmp_path):
    run_clustering(settings, ClusterRequest("pattern", k=3, seed=1))
    before = cluster_fingerprint(settings, "v1")
    rows = np.random.default_rng(0).standard_normal((20_000, 128)).astype(np.float32)
    add_synthetic_version(settings, rows, model="pattern", version="v2")
    app = create_app({"TESTING": True, "SETTINGS": dataclasses.replace(settings, jobs="worker")})  # only queues
    client, headers = app.test_client(), {"Authorization": f"Bearer {TOKEN}"}
    resp = client.post("/api/clusters", json={"model": "pattern", "version": "v2", "k": "auto", "seed": 1,
                                              "niter": 25, "nredo": 3}, headers=headers)
    assert resp.status_code == 202, resp.get_json()
    slow = resp.get_json()["job"]
    catalog = Catalog(settings.database)
    assert record(catalog, slow).state == "queued"  # nobody runs it in the web process

    first = WorkerProcess(settings.data_dir, tmp_path / "first.log")
    second = None
    try:
        running = wait_job(catalog, slow, lambda j: j.state == "running" and j.progress > 0, what="running")
        assert running.owner and f":{first.proc.pid}:" in running.owner
        first.kill()  # mid-job: no chance to clean up
        assert record(catalog, slow).state == "running"
        second = WorkerProcess(settings.data_dir, tmp_path / "second.log")
        failed = wait_job(catalog, slow, lambda j: j.state != "running", timeout=60, what="reaped")
        assert failed.state == "failed"
        reason = client.get(f"/api/jobs/{slow}").get_json()["message"]
        assert reason.startswith("worker died (no heartbeat for") and "\n" not in reason

        quick = client.post("/api/clusters", json={"model": "pattern", "k": 4, "seed": 3}, headers=headers)
        assert quick.status_code == 202
        done = wait_job(catalog, quick.get_json()["job"], lambda j: j.state in ("done", "failed", "cancelled"),
                        what="finished")
        assert done.state == "done", done.message
        assert f":{second.proc.pid}:" in (done.owner or "")
        assert client.get(f"/api/jobs/{done.id}").get_json()["progress"] == 1.0
        assert cluster_versions(settings) == ["v1", done.result["version"]]  # nothing from the killed job
        assert cluster_fingerprint(settings, "v1") == before

        # cancel from the API: a queued job at once, a running one at the worker's next beat
        again = client.post("/api/clusters", json={"model": "pattern", "version": "v2", "k": "auto", "seed": 1,
                                                   "niter": 25, "nredo": 3}, headers=headers).get_json()["job"]
        wait_job(catalog, again, lambda j: j.state == "running" and j.progress > 0, what="running")
        assert client.post(f"/api/jobs/{again}/cancel", headers=headers).status_code == 200
        cancelled = wait_job(catalog, again, lambda j: j.state != "running", timeout=30, what="cancelled")
        assert cancelled.state == "cancelled"
        assert client.post(f"/api/jobs/{again}/cancel", headers=headers).status_code == 409
        assert cluster_versions(settings) == ["v1", done.result["version"]]
        assert cluster_fingerprint(settings, "v1") == before
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_a_queued_job_is_cancelled_at_once_and_never_claimed(settings):
    catalog = Catalog(settings.database)
    job_id = queue(settings, "cluster", QUICK_CLUSTER)
    runner = JobRunner(catalog, 1, 3, mode="worker")
    assert runner.cancel(job_id)
    assert record(catalog, job_id).state == "cancelled"
    assert jobdb.claim_job(catalog, "someone", ["cluster"]) is None
    assert not runner.cancel(job_id)


def test_a_waiting_queued_job_is_not_reaped_as_dead(settings):
    catalog = Catalog(settings.database)
    job_id = queue(settings, "cluster", QUICK_CLUSTER)
    time.sleep(1.1)
    assert jobdb.fail_stale(catalog, 1.0) == []
    assert record(catalog, job_id).state == "queued"


def test_racing_claims_give_the_job_to_exactly_one(settings):
    job_id = queue(settings, "cluster", QUICK_CLUSTER)
    barrier, got = threading.Barrier(8), []

    def claim(n: int) -> None:
        catalog = Catalog(settings.database)
        barrier.wait()
        job = jobdb.claim_job(catalog, f"racer-{n}", ["cluster"])
        if job is not None:
            got.append((n, job.id))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got) == 1 and got[0][1] == job_id
    assert record(Catalog(settings.database), job_id).owner == f"racer-{got[0][0]}"


def test_two_worker_processes_racing_for_one_job_run_it_once(settings, tmp_path):
    job_id = queue(settings, "cluster", QUICK_CLUSTER)
    workers = [WorkerProcess(settings.data_dir, tmp_path / f"w{n}.log", "--idle-exit", "3") for n in range(2)]
    try:
        codes = [w.wait(120) for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert codes == [0, 0], [w.output()[-2000:] for w in workers]
    job = jobdb.get_job(Catalog(settings.database), job_id)
    assert job is not None and job.state == "done", job
    claimed = [w for w in workers if f"claimed job {job_id}" in w.output()]
    assert len(claimed) == 1 and f":{claimed[0].proc.pid}:" in (job.owner or "")
    assert cluster_versions(settings) == ["v1"]


def _http(method: str, url: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_a_web_restart_during_a_training_job_does_not_stop_it(settings, tmp_path):
    rate_like_a_designer(settings, queries=36)
    env = {"SWATCH_JOBS": "worker", **LEASE}
    server = start_server(settings.data_dir, admin_token=TOKEN, env=env)
    worker = WorkerProcess(settings.data_dir, tmp_path / "worker.log")
    catalog = Catalog(settings.database)
    try:
        started = _http("POST", f"{server.url}/api/train",
                        {"epochs": 500, "augment": 0, "min_ratings": 10, "activate": "no"})
        job_id = started["job"]
        wait_job(catalog, job_id, lambda j: j.state == "running" and j.progress >= 0.2, what="training")
        server.kill()  # the web process dies mid-job
        assert record(catalog, job_id).state == "running"
        server = start_server(settings.data_dir, admin_token=TOKEN, env=env)
        assert _http("GET", f"{server.url}/api/jobs/{job_id}")["state"] in ("running", "done")
        deadline = time.monotonic() + 300
        while (job := _http("GET", f"{server.url}/api/jobs/{job_id}"))["state"] == "running":
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["state"] == "done", (job, worker.output()[-2000:])
        assert job["result"]["version"] == "v2" and job["progress"] == 1.0
        assert (settings.models_dir / "pattern" / "v2" / "head.npz").is_file()
    finally:
        server.stop()
        worker.kill()
