"""Job ownership: a second runner leaves a live owner's jobs alone, a dead owner's are failed; one-line reasons."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from swatch.catalog import jobs as jobdb
from swatch.catalog.db import Catalog
from swatch.jobs import JobContext, JobRunner, one_line_reason, owner_token

ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT, STALE = 0.1, 1.0


def wait_state(runner: JobRunner, job_id: str, states: tuple[str, ...], timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        if job is not None and job["state"] in states:
            return job
        time.sleep(0.02)
    pytest.fail(f"job {job_id} not {states} after {timeout} s: {runner.get(job_id)}")


def test_a_second_runner_leaves_a_live_owners_running_job_alone(tmp_path: Path) -> None:
    release = threading.Event()

    def blocked(ctx: JobContext, params: dict) -> dict:
        while not release.wait(0.05):
            ctx.check()
        return {"answer": params["n"] * 2}

    first = JobRunner(Catalog(tmp_path / "catalog.db"), HEARTBEAT, STALE)
    job_id = first.start("test", {"n": 21}, blocked)
    started = wait_state(first, job_id, ("running",))
    time.sleep(STALE * 1.5)  # longer than the stale timeout: only the heartbeat keeps the job alive
    beaten = first.get(job_id)
    assert beaten is not None and beaten["heartbeat_at"] > started["heartbeat_at"]

    second = JobRunner(Catalog(tmp_path / "catalog.db"), HEARTBEAT, STALE)  # another app instance starting
    assert second.get(job_id)["state"] == "running"  # type: ignore[index]
    release.set()
    done = wait_state(first, job_id, ("done", "failed"))
    assert done["state"] == "done" and done["result"] == {"answer": 42}
    assert "owner" not in done


_WORKER = """
import sys, threading
from swatch.catalog.db import Catalog
from swatch.jobs import JobRunner
runner = JobRunner(Catalog(sys.argv[1]), 0.1, 1.0)
job = runner.start("test", {}, lambda ctx, p: threading.Event().wait())
print(job, flush=True)
threading.Event().wait()
"""


def test_a_dead_owners_job_is_failed_with_a_one_line_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "catalog.db"
    worker = subprocess.Popen([sys.executable, "-c", _WORKER, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert worker.stdout is not None
        job_id = worker.stdout.readline().strip()
        catalog = Catalog(db)
        deadline = time.monotonic() + 20
        while (record := jobdb.get_job(catalog, job_id)) is None or record.state != "running":
            assert time.monotonic() < deadline, "the worker's job never ran"
            time.sleep(0.05)
        assert record.owner and record.owner != owner_token() and f":{worker.pid}:" in record.owner
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        if worker.stdout is not None:
            worker.stdout.close()

    # just killed: its last heartbeat is fresh, so a new runner cannot tell it from a live one yet
    assert JobRunner(catalog, HEARTBEAT, STALE).get(job_id)["state"] == "running"  # type: ignore[index]
    time.sleep(STALE + 0.3)
    with caplog.at_level(logging.WARNING, logger="swatch.jobs"):
        runner = JobRunner(catalog, HEARTBEAT, STALE)
    job = runner.get(job_id)
    assert job is not None and job["state"] == "failed"
    assert job["message"].startswith("worker died (no heartbeat for ") and job["message"].endswith(" s)")
    silent = int(job["message"].split("for ")[1].split(" s")[0])
    assert STALE <= silent + 0.5 < 30
    assert any(job_id in r.getMessage() and "died" in r.getMessage() for r in caplog.records)


def test_the_job_api_shows_a_one_line_reason_and_the_log_keeps_the_traceback(
        app, client, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    runner: JobRunner = app.extensions["swatch.jobs"]
    secret = Path(app.extensions["swatch.settings"].data_dir) / "nowhere" / "weights.npz"

    def broken(ctx: JobContext, params: dict) -> dict:
        with open(secret, "rb"):
            return {}

    with caplog.at_level(logging.ERROR, logger="swatch.jobs"):
        job_id = runner.start("test", {}, broken)
        runner.wait(job_id, 20)
    body = client.get(f"/api/jobs/{job_id}").get_json()
    assert body["state"] == "failed"
    assert body["message"].startswith("FileNotFoundError: ") and "weights.npz" in body["message"]
    listed = next(j for j in client.get("/api/jobs").get_json()["jobs"] if j["id"] == job_id)
    for shown in (json.dumps(body), json.dumps(listed)):
        assert str(secret.parent) not in shown and "Traceback" not in shown and "\\n" not in shown
    logged = [r for r in caplog.records if job_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None and logged[0].exc_info[0] is FileNotFoundError


def test_jobs_stored_with_a_traceback_are_served_as_one_line(app, client) -> None:  # type: ignore[no-untyped-def]
    """What the code before job reasons stored: the exception text, and its traceback in the result."""
    catalog: Catalog = app.extensions["swatch.catalog"]
    trace = ('Traceback (most recent call last):\n  File "/srv/swatch/swatch/training/service.py", line 9, in run\n'
             "    open(path)\nFileNotFoundError: [Errno 2] No such file or directory: '/srv/swatch/data/x.npz'\n")
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT INTO jobs(id, kind, state, progress, message, params, result, created_at, updated_at)"
            " VALUES ('old1', 'train', 'failed', 0.5, ?, '{}', ?, '2024-01-01T00:00:00.000000Z',"
            " '2024-01-01T00:00:00.000000Z')",
            ("FileNotFoundError: [Errno 2] No such file or directory: '/srv/swatch/data/x.npz'\nmore detail",
             json.dumps({"traceback": trace, "epochs": 3})),
        )
    body = client.get("/api/jobs/old1").get_json()
    assert body["message"] == "FileNotFoundError: [Errno 2] No such file or directory: 'x.npz'"
    assert body["result"] == {"epochs": 3}
    assert "/srv" not in json.dumps(client.get("/api/jobs").get_json())


@pytest.mark.parametrize(("text", "line"), [
    ("ValueError: bad value", "ValueError: bad value"),
    ("OSError: cannot read /data/catalogue/images/a b.png now", "OSError: cannot read a b.png now"),
    ("KeyError: 'pattern/v3' unknown in models/pattern", "KeyError: 'pattern/v3' unknown in models/pattern"),
    ("Traceback (most recent call last):\n  File \"/x/y.py\", line 1\nRuntimeError: at /opt/q/r", "RuntimeError: at r"),
    ("", ""),
])
def test_one_line_reason(text: str, line: str) -> None:
    assert one_line_reason(text) == line
    assert len(one_line_reason("E: " + "x" * 5000)) == 300


def test_heartbeat_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        JobRunner(Catalog(tmp_path / "catalog.db"), heartbeat_s=30, stale_after_s=40)
