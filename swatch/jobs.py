"""Background jobs (clustering, training) run in threads here or queued for `swatch worker`, with heartbeats."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from swatch.catalog import jobs as jobdb
from swatch.catalog.db import Catalog
from swatch.config import JOB_MODES as MODES

STATES = ("queued", "running", "done", "failed", "cancelled")
_OWNERS: dict[int, str] = {}
MAX_REASON = 300

log = logging.getLogger(__name__)
_ABS_PATH = re.compile(r"(?<![\w.~-])(?:/[^\s/'\"(),:;]+)+/?")


def one_line_reason(text: str) -> str:
    """What a job record may show of a failure: its first line, absolute paths cut to their last part, bounded.

    A stored Python traceback (from before reasons were one line) is reduced to its final exception line.
    """
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback (most recent call last)") else lines[0]
    line = _ABS_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1] or "/", line)
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def owner_token() -> str:
    """This process's token in jobs.owner: host, pid and a random part (a pid is reused after a reboot)."""
    pid = os.getpid()
    if pid not in _OWNERS:
        _OWNERS[pid] = f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}"
    return _OWNERS[pid]


class JobCancelled(Exception):
    """Raised inside a job when someone asked it to stop."""


@dataclass
class JobContext:
    """Handed to a job's function: report progress, add messages, check for cancel."""

    catalog: Catalog
    job_id: str
    _cancel: threading.Event

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress in 0..1 (and a message); raises JobCancelled when a cancel was requested."""
        values: dict[str, Any] = {"progress": max(0.0, min(1.0, float(fraction)))}
        if message is not None:
            values["message"] = message
        jobdb.update_job(self.catalog, self.job_id, **values)
        self.check()

    def check(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


def public(record: jobdb.JobRecord) -> dict[str, Any]:
    """The JSON shape of a job: no owner internals, no traceback, a one-line message."""
    out = asdict(record)
    del out["owner"]
    out["message"] = one_line_reason(record.message)
    out["result"] = {k: v for k, v in record.result.items() if k != "traceback"}
    return out


class JobRunner:
    """Starts jobs on daemon threads (mode "thread") or queues them for a worker ("worker"); one runner per app.

    State survives in the `jobs` table. While it runs jobs, a daemon thread heartbeats them every `heartbeat_s`
    and passes on cancel requests made by other processes. At start it fails the queued and running jobs whose
    owner has not heartbeaten for `stale_after_s` (that process died), and only those.
    """

    def __init__(self, catalog: Catalog, heartbeat_s: float = 5.0, stale_after_s: float = 60.0,
                 mode: str = "thread"):
        if mode not in MODES:
            raise ValueError(f"job mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        if not 0 < heartbeat_s < stale_after_s / 2:
            raise ValueError(f"the job heartbeat ({heartbeat_s} s) must be under half the stale timeout "
                             f"({stale_after_s} s)")
        self.catalog = catalog
        self.owner = owner_token()
        self.heartbeat_s = heartbeat_s
        self._cancels: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._beater: threading.Thread | None = None
        for job in jobdb.fail_stale(catalog, stale_after_s):
            log.warning("job %s failed: its worker %s died (no heartbeat for %.0f s)", job.id, job.owner,
                        job.silent_s)

    def start(
        self, kind: str, params: dict[str, Any], func: Callable[[JobContext, dict[str, Any]], dict[str, Any]]
    ) -> str:
        """Queue `func(ctx, params)` on a new thread; returns the job id. Its return value becomes the result.

        In "worker" mode the job is only queued: a `swatch worker` claims it and runs its kind's function."""
        job_id = uuid.uuid4().hex[:12]
        if self.mode == "worker":
            jobdb.enqueue_job(self.catalog, job_id, kind, params)
            return job_id
        jobdb.insert_job(self.catalog, job_id, kind, params, self.owner)
        cancel = threading.Event()
        thread = threading.Thread(target=self._run, args=(job_id, kind, func, params, cancel), daemon=True,
                                  name=f"job-{kind}-{job_id}")
        with self._lock:
            self._cancels[job_id] = cancel
            self._threads[job_id] = thread
            if self._beater is None:
                self._beater = threading.Thread(target=self._beat, daemon=True, name="job-heartbeat")
                self._beater.start()
        thread.start()
        return job_id

    def _beat(self) -> None:
        """Heartbeat this runner's jobs until it has none left."""
        while True:
            with self._lock:
                ids = list(self._threads)
                if not ids:
                    self._beater = None
                    return
            try:
                jobdb.heartbeat(self.catalog, ids, self.owner)
                for job_id, cancel in jobdb.leases(self.catalog, ids, self.owner).items():
                    if cancel:
                        self.cancel(job_id)
            except Exception:  # noqa: BLE001 - a missed beat is retried; the thread must outlive a busy database
                log.exception("job heartbeat failed")
            time.sleep(self.heartbeat_s)

    def _run(self, job_id: str, kind: str, func: Callable[..., dict[str, Any]], params: dict[str, Any],
             cancel: threading.Event) -> None:
        ctx = JobContext(self.catalog, job_id, cancel)
        try:
            jobdb.update_job(self.catalog, job_id, state="running")
            result = func(ctx, params) or {}
        except JobCancelled:
            jobdb.update_job(self.catalog, job_id, state="cancelled", message="cancelled")
        except Exception as exc:  # noqa: BLE001 - a failed job is reported, never crashes the server
            log.exception("job %s (%s) failed", job_id, kind)
            reason = one_line_reason(f"{type(exc).__name__}: {exc}")
            jobdb.update_job(self.catalog, job_id, state="failed", message=reason, result={})
        else:
            jobdb.update_job(self.catalog, job_id, state="done", progress=1.0, result=result)
        finally:
            with self._lock:
                self._cancels.pop(job_id, None)
                self._threads.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        """Ask a job to stop at its next progress report; False when it is not queued or running anywhere.

        A job of this process is told at once; another process's (a worker's) sees the request at its next beat."""
        with self._lock:
            event = self._cancels.get(job_id)
        if event is None:
            return jobdb.request_cancel(self.catalog, job_id)
        event.set()
        return True

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)

    def get(self, job_id: str) -> dict[str, Any] | None:
        record = jobdb.get_job(self.catalog, job_id)
        return public(record) if record else None

    def list(self, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        return [public(r) for r in jobdb.list_jobs(self.catalog, kind, limit)]
