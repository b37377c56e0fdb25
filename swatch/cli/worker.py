"""`swatch worker`: claim queued jobs from the catalogue under a heartbeat lease, run them, reap dead workers' jobs."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from swatch.catalog import jobs as jobdb
from swatch.catalog.db import Catalog
from swatch.cli import CliError
from swatch.config import Settings
from swatch.jobs import JobCancelled, JobContext, one_line_reason, owner_token
from swatch.web.jobkinds import JobFunction, job_functions

log = logging.getLogger("swatch.worker")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the jobs a web process queued (SWATCH_JOBS=worker): one at a time, leased by a heartbeat every "
        "SWATCH_JOB_HEARTBEAT_S; a job whose worker is silent for SWATCH_JOB_STALE_S is failed by any live worker."
    )
    parser.add_argument("--data-dir", help="where catalog.db, image_features/ ... live (default: SWATCH_DATA_DIR)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at an empty queue (default 1)")
    parser.add_argument("--max-jobs", type=int, default=0, help="exit after this many jobs (default 0: never)")
    parser.add_argument("--idle-exit", type=float, default=0.0,
                        help="exit after this many seconds with nothing to run (default 0: never)")


class Worker:
    """Claims one job at a time; a daemon thread heartbeats it, passes on cancel requests and reaps stale jobs."""

    def __init__(self, catalog: Catalog, kinds: dict[str, JobFunction], heartbeat_s: float, stale_s: float):
        self.catalog, self.kinds = catalog, kinds
        self.heartbeat_s, self.stale_s = heartbeat_s, stale_s
        self.owner = owner_token()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._current: tuple[str, threading.Event] | None = None

    def reap(self) -> None:
        """Fail the jobs whose owner stopped heartbeating (a crashed worker or web process)."""
        for job in jobdb.fail_stale(self.catalog, self.stale_s):
            log.warning("job %s failed: its worker %s died (no heartbeat for %.0f s)", job.id, job.owner, job.silent_s)

    def _beat(self) -> None:
        while True:
            try:
                with self._lock:
                    current = self._current
                if current is not None:
                    job_id, cancel = current
                    jobdb.heartbeat(self.catalog, [job_id], self.owner)
                    held = jobdb.leases(self.catalog, [job_id], self.owner)
                    if held.get(job_id, True):  # a cancel was requested, or the lease was lost to a reaper
                        cancel.set()
                self.reap()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the thread must outlive a busy database
                log.exception("worker heartbeat failed")
            time.sleep(self.heartbeat_s)

    def stop(self) -> None:
        """Stop claiming; the running job stops at its next step and goes back to the queue."""
        self.stopping.set()
        with self._lock:
            if self._current is not None:
                self._current[1].set()

    def run(self, poll_s: float, max_jobs: int = 0, idle_exit_s: float = 0.0) -> int:
        """Claim and run jobs until stopped (or `max_jobs` ran, or idle for `idle_exit_s`); returns how many ran."""
        threading.Thread(target=self._beat, daemon=True, name="worker-heartbeat").start()
        self.reap()
        ran, idle_since = 0, time.monotonic()
        log.info("worker %s waiting for jobs (%s)", self.owner, ", ".join(sorted(self.kinds)))
        while not self.stopping.is_set() and not (max_jobs and ran >= max_jobs):
            job = jobdb.claim_job(self.catalog, self.owner, sorted(self.kinds))
            if job is None:
                if idle_exit_s and time.monotonic() - idle_since >= idle_exit_s:
                    break
                self.stopping.wait(poll_s)
                continue
            self._run_one(job)
            ran, idle_since = ran + 1, time.monotonic()
        return ran

    def _run_one(self, job: jobdb.JobRecord) -> None:
        cancel = threading.Event()
        with self._lock:
            self._current = (job.id, cancel)
        log.info("worker %s claimed job %s (%s)", self.owner, job.id, job.kind)
        try:
            result = self.kinds[job.kind](JobContext(self.catalog, job.id, cancel), job.params) or {}
        except JobCancelled:
            if self.stopping.is_set():
                jobdb.release_job(self.catalog, job.id, self.owner)
                log.info("job %s put back in the queue: the worker is stopping", job.id)
            elif not jobdb.finish_job(self.catalog, job.id, self.owner, state="cancelled", message="cancelled"):
                log.warning("job %s stopped: this worker no longer holds its lease", job.id)
        except Exception as exc:  # noqa: BLE001 - a failed job is reported; the worker goes on
            log.exception("job %s (%s) failed", job.id, job.kind)
            jobdb.finish_job(self.catalog, job.id, self.owner, state="failed", result={},
                             message=one_line_reason(f"{type(exc).__name__}: {exc}"))
        else:
            if jobdb.finish_job(self.catalog, job.id, self.owner, state="done", progress=1.0, result=result):
                log.info("job %s (%s) done", job.id, job.kind)
            else:
                log.warning("job %s finished after this worker lost its lease; its result is not recorded", job.id)
        finally:
            with self._lock:
                self._current = None


def run(args: argparse.Namespace) -> int:
    """Run jobs until SIGTERM or SIGINT (the running job is put back in the queue), or the flags' limits."""
    settings = Settings.from_env(**({"data_dir": Path(args.data_dir)} if args.data_dir else {}))
    if not settings.has_catalog:
        raise CliError(f"no catalogue at {settings.db_path}: run extract_features.py first")
    if not args.poll > 0 or args.max_jobs < 0 or args.idle_exit < 0:
        raise CliError("--poll must be above 0, --max-jobs and --idle-exit at least 0")
    if not 0 < settings.job_heartbeat_s < settings.job_stale_s / 2:
        raise CliError(f"SWATCH_JOB_HEARTBEAT_S ({settings.job_heartbeat_s}) must be under half of "
                       f"SWATCH_JOB_STALE_S ({settings.job_stale_s})")
    worker = Worker(Catalog(settings.database), job_functions(settings), settings.job_heartbeat_s,
                    settings.job_stale_s)

    def on_signal(signum: int, frame: FrameType | None) -> Any:
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run(args.poll, args.max_jobs, args.idle_exit)
    return 0
