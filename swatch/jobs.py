"""Background jobs (clustering, training) run in threads, with progress, messages and cancel kept in the catalogue."""

from __future__ import annotations

import json
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from swatch.catalog.db import Catalog, now_iso

STATES = ("queued", "running", "done", "failed", "cancelled")


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
        fields = ["progress = ?", "updated_at = ?"]
        args: list[Any] = [max(0.0, min(1.0, float(fraction))), now_iso()]
        if message is not None:
            fields.append("message = ?")
            args.append(message)
        with self.catalog.transaction() as tx:
            tx.execute(f"UPDATE jobs SET {', '.join(fields)} WHERE id = ?", (*args, self.job_id))
        self.check()

    def check(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


class JobRunner:
    """Starts jobs on daemon threads; one runner per app. State survives in the `jobs` table."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._cancels: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        # jobs left running by a crashed or stopped process can never finish: say so
        with catalog.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET state = 'failed', message = 'interrupted: the server stopped while it ran',"
                " updated_at = ? WHERE state IN ('queued', 'running')",
                (now_iso(),),
            )

    def start(self, kind: str, params: dict[str, Any], func: Callable[[JobContext, dict[str, Any]], dict[str, Any]]) -> str:
        """Queue `func(ctx, params)` on a new thread; returns the job id. Its return value becomes the result."""
        job_id = uuid.uuid4().hex[:12]
        stamp = now_iso()
        with self.catalog.transaction() as tx:
            tx.execute(
                "INSERT INTO jobs(id, kind, state, progress, message, params, result, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (job_id, kind, "queued", 0.0, "", json.dumps(params, sort_keys=True, default=str), "{}", stamp, stamp),
            )
        cancel = threading.Event()
        thread = threading.Thread(target=self._run, args=(job_id, func, params, cancel), daemon=True,
                                  name=f"job-{kind}-{job_id}")
        with self._lock:
            self._cancels[job_id] = cancel
            self._threads[job_id] = thread
        thread.start()
        return job_id

    def _set(self, job_id: str, **values: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.catalog.transaction() as tx:
            tx.execute(f"UPDATE jobs SET {cols}, updated_at = ? WHERE id = ?", (*values.values(), now_iso(), job_id))

    def _run(self, job_id: str, func: Callable[..., dict[str, Any]], params: dict[str, Any],
             cancel: threading.Event) -> None:
        ctx = JobContext(self.catalog, job_id, cancel)
        self._set(job_id, state="running")
        try:
            result = func(ctx, params) or {}
        except JobCancelled:
            self._set(job_id, state="cancelled", message="cancelled")
        except Exception as exc:  # noqa: BLE001 - a failed job is reported, never crashes the server
            self._set(job_id, state="failed", message=f"{type(exc).__name__}: {exc}",
                      result=json.dumps({"traceback": traceback.format_exc(limit=5)}))
        else:
            self._set(job_id, state="done", progress=1.0, result=json.dumps(result, default=str))
        finally:
            with self._lock:
                self._cancels.pop(job_id, None)
                self._threads.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        """Ask a running job to stop at its next progress report; False when it is not running here."""
        with self._lock:
            event = self._cancels.get(job_id)
        if event is None:
            return False
        event.set()
        return True

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)

    def get(self, job_id: str) -> dict[str, Any] | None:
        r = self.catalog.connect().execute(
            "SELECT id, kind, state, progress, message, params, result, created_at, updated_at FROM jobs WHERE id = ?",
            (job_id,),
        ).fetchone()
        if r is None:
            return None
        return {"id": r[0], "kind": r[1], "state": r[2], "progress": r[3], "message": r[4],
                "params": json.loads(r[5]), "result": json.loads(r[6]), "created_at": r[7], "updated_at": r[8]}

    def list(self, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql = "SELECT id FROM jobs" + (" WHERE kind = ?" if kind else "") + " ORDER BY created_at DESC LIMIT ?"
        args: tuple[Any, ...] = (kind, limit) if kind else (limit,)
        ids = [r[0] for r in self.catalog.connect().execute(sql, args)]
        return [j for j in (self.get(i) for i in ids) if j]
